"""The click layer on the Python API: parse options, call ``bcecli.score_file``, render, exit
with the documented code.

Exit codes: 0 report produced; 1 a gate failed; 2 usage error; 3 the input cannot be scored
(or the report cannot be written); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Any

import click

from bcecli.errors import BceError, flag_spelling
from bcecli.version import __version__

EPILOG = """\b
Exit codes: 0 report produced; 1 a gate failed (--fail-on, --max-loss,
--max-ne); 2 usage error; 3 the input cannot be scored (or stdout cannot
be written); 130 interrupted.
"""

# The exit status of a run stopped by Ctrl-C (SIGINT): 128 + the signal's number, as shells do.
INTERRUPTED = 130


class Failure(click.ClickException):
    """One ``Error: ...`` line on stderr (no usage text), with the documented exit code: 2 for
    options that do not fit together, 3 for input that cannot be scored."""

    def __init__(self, message: str, exit_code: int = 3) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it per class

    @classmethod
    def of(cls, error: BceError) -> Failure:
        """``error`` as the command line says it: its parameters spelled as flags."""
        return cls(error.line(flag_spelling), error.exit_code)


# Each command's module, imported when the command runs or a help page lists it: `bce score`
# builds no option of `bce plot`.
COMMANDS = {
    "score": "bcecli.cli.score",
    "check-init": "bcecli.cli.check_init",
    "compare": "bcecli.cli.compare",
    "explain": "bcecli.cli.explain",
    "bands": "bcecli.cli.bands",
    "plot": "bcecli.cli.plot",
}


class BceGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            import importlib

            module = importlib.import_module(COMMANDS[cmd_name])
            command = getattr(module, cmd_name.replace("-", "_"))
            self.add_command(command)
        return super().get_command(ctx, cmd_name)

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """click's main, but every error is one ``Error: ...`` line (no usage text)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as e:
            click.echo(f"Error: {e.format_message()}", err=True)
            sys.exit(e.exit_code)
        except click.Abort:
            # Ctrl-C (bce asks no questions, so nothing else aborts): one line, status 130
            click.echo("bce: interrupted", err=True)
            sys.exit(INTERRUPTED)
        except BrokenPipeError:
            _quiet_pipe()
            sys.exit(0)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BceError as e:
            raise Failure.of(e) from None
        except BrokenPipeError:
            # `bce ... | head`: the reader has what it wanted; stop quietly, status 0.
            _quiet_pipe()
            raise click.exceptions.Exit(0) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as e:
            if debug_enabled(ctx):
                raise
            raise Failure(
                f"unexpected error, a bug in bce: {type(e).__name__}: {e}; re-run with --debug "
                "for the traceback and report it to the bce maintainers"
            ) from None


def debug_enabled(ctx: click.Context) -> bool:
    """--debug on the group or any command (commands record it in the root context)."""
    return bool(os.environ.get("BCE_DEBUG") or ctx.params.get("debug") or ctx.meta.get("bce_debug"))


@click.group(cls=BceGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="bce")
@click.option("--debug", is_flag=True, help="Show the traceback of unexpected errors.")
def cli(debug: bool) -> None:
    """A loss doctor for classifier outputs.

    Computes binary, categorical and sparse categorical cross-entropy exactly as Keras, PyTorch
    or scikit-learn would, explains whether the number is good, and flags every mistake in the
    file that would make it lie.

    \b
    Examples:
      bce score preds.csv                     # labels and predictions in one file
      bce score preds.npy --labels y.npy      # two files
      bce score preds.csv --format json | jq .mean_loss
      bce explain 2.302585                    # what does a loss of 2.3 mean?
      bce bands                               # how to read a mean cross-entropy
      bce check-init untrained.csv            # before training: is the starting loss right?
    """


def main() -> None:
    """Console-script entry point."""
    # bce makes no use of a threaded BLAS (its kernels are element-wise), and a BLAS thread pool
    # would compete with bce's own workers on the cores: one BLAS thread, unless the user says
    # otherwise. Set before numpy is first imported, which is later than this.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # What start-up imports (numpy; pandas where text is read) makes some 100k objects that live
    # as long as the process: collecting at Python's default pace, every 700 new objects, frees
    # nothing and costs 5-9 ms a run (about 45 collections measured). Every 100k still collects
    # the cycles a long run leaves behind.
    gc.set_threshold(100_000)
    from bcecli.cli import streams

    streams.guard()
    try:
        cli.main(prog_name="bce")
    except SystemExit as e:
        _leave(e.code)
    except KeyboardInterrupt:  # between click's handlers (start-up, shutdown)
        _leave(_interrupted())
    _leave(0)


def _interrupted() -> int:
    try:
        click.echo("bce: interrupted", err=True)
    except KeyboardInterrupt:
        pass
    return INTERRUPTED


def _leave(code: object) -> None:
    """End the process now, skipping the interpreter's teardown.

    Freeing every module and array one by one, and unmapping the inputs, costs 15-20 ms on every
    run (measured: 110 -> 94 ms for a small file), and bce has nothing left to do by then: its
    data is on stdout, its messages on stderr, the figure of ``bce plot`` is written and closed,
    worker threads and processes are joined. Flushed here; a reader that has gone away (``|
    head``) ends the run quietly, as everywhere else.
    """
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): Python prints it and exits 1
        print(code, file=sys.stderr)
        status = 1
    from bcecli.cli.streams import OutputError

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError, AttributeError):
            pass  # a closed reader, a stream closed already, or none (Python's own, closed)
        except OutputError as e:  # the report did not reach stdout's disk: not a success
            click.echo(f"Error: {e.line(flag_spelling)}", err=True)
            status = status if status in (2, 3) else e.exit_code
    os._exit(status)


def _quiet_pipe() -> None:
    # Python would complain again when flushing stdout at exit; point it at /dev/null.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
