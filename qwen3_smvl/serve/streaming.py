"""A streamed answer keeps the text of its first output even when that output is also its last.

swift 4.6's `InferStreamer` prints only the response prefix for a request's first output and drops its tokens,
counting on a later output to print them again. vLLM hands the tokens over in whatever outputs it has ready: a
short answer can come whole in the first output, finished (always with max_tokens=1; under load, a two-token answer),
and the stream then ends with the prefix alone: an empty answer. The transformers backend streams token by token.
"""


def apply(streamer_cls) -> None:
    """Wrap swift's InferStreamer.get_printable_text: a first output that is also the last prints its tokens too."""
    get_printable_text = streamer_cls.get_printable_text

    def get_printable_text_whole(self, raw_tokens, is_finished: bool) -> str:
        if self.first_token and is_finished:
            return get_printable_text(self, raw_tokens, False) + get_printable_text(self, raw_tokens, True)
        return get_printable_text(self, raw_tokens, is_finished)

    streamer_cls.get_printable_text = get_printable_text_whole
