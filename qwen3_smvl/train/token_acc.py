"""swift's token accuracy on the steps that log it, not on every step.

swift computes `token_acc` in every training step (argmax over the whole vocabulary, then `.cpu()` and `.tolist()`
between forward and backward: a device sync per step) and averages it over each logging window. This callback keeps
swift's computation but runs it only in the optimizer step that will be logged, so the logged value is that step's
accuracy. Losses, gradients and weights are untouched (tests/test_recipes.py compares them with it on and off).
SMVL_TOKEN_ACC=every_step restores swift's behaviour.
"""
from swift.callbacks.base import TrainerCallback


class TokenAccOnLoggingStepsCallback(TrainerCallback):

    def on_train_begin(self, args, state, control, **kwargs):
        trainer = self.trainer
        every_step = trainer._compute_acc

        def on_logging_steps(outputs, labels, cu_seqlens=None) -> None:
            logged = state.logging_steps and (state.global_step + 1) % state.logging_steps == 0
            if logged or state.global_step == 0 or not trainer.model.training:  # step 1 logs too; eval: always
                every_step(outputs, labels, cu_seqlens=cu_seqlens)

        trainer._compute_acc = on_logging_steps
