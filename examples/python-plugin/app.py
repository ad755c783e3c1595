"""A worldhost plugin in Python: the `plugin` world's `handler` export, built with componentize-py.

It reverses the words of its input and prefixes the `greeting` config value ("hello" when the
world sets none): `one two three` becomes `hi: three two one` with `greeting = "hi"`. Text in
gives text out; bytes in (UTF-8) gives the same text as bytes out. It logs one line through the
host's `logging` interface and keeps its last output in the blob store at
`python-plugin/last.txt`. The input `fail` returns the typed error `asked-to-fail`.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.handler import Error, Payload, Payload_Bytes, Payload_Text
from wit_world.imports import blob, config
# The plugin world also offers the standard `wasi:logging`: componentize-py then names ours by
# its package.
from wit_world.imports import worldhost_host_logging as logging

LAST_OUTPUT_KEY = "python-plugin/last.txt"


def fail(code: str, message: str) -> Err[Error]:
    return Err(Error(code=code, message=message))


class Handler(exports.Handler):
    def handle(self, input: Payload) -> Payload:
        if isinstance(input, Payload_Text):
            text = input.value
        else:
            try:
                text = input.value.decode("utf-8")
            except UnicodeDecodeError as e:
                raise fail("bad-input", f"the input is not UTF-8 text: {e}")

        words = text.split()
        if words == ["fail"]:
            raise fail("asked-to-fail", "the input asked the plugin to fail")

        greeting = config.get("greeting") or "hello"
        output = f"{greeting}: {' '.join(reversed(words))}"

        try:
            blob.put(LAST_OUTPUT_KEY, output.encode("utf-8"))
        except Err as e:
            raise fail("blob-failed", f"cannot store {LAST_OUTPUT_KEY}: {e.value}")

        logging.log(
            logging.Level.INFO,
            "reversed the input",
            [("words", str(len(words))), ("greeting", greeting)],
        )

        if isinstance(input, Payload_Text):
            return Payload_Text(output)
        return Payload_Bytes(output.encode("utf-8"))
