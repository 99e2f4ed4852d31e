"""swift's GRPO log of each rollout's prompt, taken by this template.

`GRPOTrainer._log_rollout` renders every prompt for its completions table by encoding the messages alone, without
the row's images (swift 4.6, rlhf_trainers/grpo_trainer.py). The template refuses that, rightly: in training an
`<image>` tag with no image is a bad row. The table wants words, not image tokens, so the prompt is rendered with the
checkpoint's own chat template instead, `<image>` left as text: the same prompt the template encodes, minus the
image tokens.
"""
from swift.utils import remove_response


def apply(trainer_cls) -> None:
    def prompts_text(self, messages_list):
        prompts = []
        for messages in messages_list:
            remove_response(messages)
            prompts.append(self.template.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True, enable_thinking=self.template.enable_thinking))
        return prompts

    trainer_cls._apply_chat_template_to_messages_list = prompts_text
