"""gixy, check-jsonschema and yamllint through their own Python code, in this process.

Their CLIs cost a Python start and an import (0.25-0.8 s of CPU) for a check that takes milliseconds: `hardstack
check` runs them ~5 times per layout, the test suite ~1000 times. Each function here builds what the tool's CLI
builds from the same arguments (its config, its loaders, its formatter) and returns what the CLI prints and its
exit code, as a tools.Run, so a row reads the same text either way; tests/test_checks.py compares both on a
broken file. Each tool keeps global state (gixy's context, click's settings): one call at a time per tool.
"""

from __future__ import annotations

import io
import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from hardstack.checks import tools
from hardstack.checks.tools import Run, ToolMissing

_LOCKS = {name: threading.Lock() for name in ("gixy", "check-jsonschema", "yamllint")}


def gixy(config: Path, *, reads: Sequence[Path], root: Path) -> Run:
    """`gixy -f json CONFIG`."""
    return tools.remembered("gixy", ("-f", "json", str(config)), None, reads, root, lambda: _gixy(config))


def _gixy(config: Path) -> Run:
    try:
        import copy

        import gixy as gixy_pkg
        from gixy.core.config import Config
        from gixy.core.exceptions import InvalidConfiguration
        from gixy.core.manager import Manager
        from gixy.core.plugins_manager import PluginsManager
        from gixy.formatters import get_all as formatters
    except ImportError:
        raise ToolMissing("gixy") from None
    with _LOCKS["gixy"]:
        # gixy/cli/main.py's defaults: every severity, includes followed, the default variables, each plugin's options.
        settings = Config(severity=gixy_pkg.severity.ALL[0], output_format="json", allow_includes=True, load_default_vars=True)
        for plugin in PluginsManager().plugins_classes:
            settings.set_for(plugin.__name__, copy.deepcopy(plugin.options))
        formatter = formatters()["json"]()
        path = str(Path(config).absolute())
        with _gixy_log() as log, Manager(config=settings) as manager:
            try:
                with open(path, "rb") as data:
                    manager.audit(path, data, is_stdin=False)
            except InvalidConfiguration as err:
                log.write(f"Configuration error: {err}\n")
                return Run(1, log.getvalue().strip())
            formatter.feed(path, manager)
            found = sum(manager.stats.values()) > 0
        # The CLI prints the report on stdout, its log (a missing include, ...) on stderr: tools.run reads both.
        return Run(1 if found else 0, (formatter.flush() + "\n" + log.getvalue()).strip())


@contextmanager
def _gixy_log() -> Iterator[io.StringIO]:
    """gixy's log records for one audit, formatted as gixy/cli/main.py's _init_logger does, kept from stderr."""
    log, out = logging.getLogger("gixy"), io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("[%(module)s]\t%(levelname)s\t%(message)s"))
    saved = log.handlers, log.level, log.propagate
    log.handlers, log.propagate = [handler], False
    log.setLevel(logging.INFO)
    try:
        yield out
    finally:
        log.handlers, log.propagate = saved[0], saved[2]
        log.setLevel(saved[1])


def jsonschema(instances: Sequence[Path], *, builtin: str | None = None, schemafile: Path | None = None,
               root: Path) -> Run:
    """`check-jsonschema --builtin-schema NAME FILE...` or `--schemafile PATH FILE...`."""
    option = ("--builtin-schema", builtin) if builtin else ("--schemafile", str(schemafile))
    reads = [*instances, *([schemafile] if schemafile else [])]
    return tools.remembered("check-jsonschema", (*option, *map(str, instances)), None, reads, root,
                            lambda: _jsonschema(instances, builtin, schemafile))


def _jsonschema(instances: Sequence[Path], builtin: str | None, schemafile: Path | None) -> Run:
    try:
        from check_jsonschema.checker import SchemaChecker
        from check_jsonschema.cli.main_command import build_instance_loader, build_schema_loader
        from check_jsonschema.cli.parse_result import ParseResult
        from check_jsonschema.regex_variants import RegexImplementation
        from check_jsonschema.reporter import TextReporter
    except ImportError:
        raise ToolMissing("check-jsonschema") from None
    with _LOCKS["check-jsonschema"]:
        args = ParseResult()  # the CLI's defaults, then what its options set
        args.set_schema(str(schemafile) if schemafile else None, builtin, False)
        args.instancefiles = tuple(open(path, "rb") for path in instances)  # the loader closes each
        out = io.StringIO()
        checker = SchemaChecker(build_schema_loader(args), build_instance_loader(args), TextReporter(verbosity=args.verbosity, stream=out),
                                format_opts=args.format_opts, regex_impl=RegexImplementation(args.regex_variant),
                                traceback_mode=args.traceback_mode, fill_defaults=args.fill_defaults)
        code = checker.run()
        return Run(code, out.getvalue().strip())


def yamllint(path: Path, config: str, *, cwd: Path, root: Path) -> Run:
    """`yamllint -f parsable -d CONFIG PATH`, PATH relative to cwd (as the CLI names it)."""
    return tools.remembered("yamllint", ("-f", "parsable", "-d", config, str(path)), cwd, [cwd / path], root,
                            lambda: _yamllint(path, config, cwd))


def _yamllint(path: Path, config: str, cwd: Path) -> Run:
    try:
        from yamllint import linter
        from yamllint.cli import Format
        from yamllint.config import YamlLintConfig
    except ImportError:
        raise ToolMissing("yamllint") from None
    with _LOCKS["yamllint"]:
        conf = YamlLintConfig(content=config)
        with open(cwd / path, newline="") as f:
            problems = list(linter.run(f, conf, str(path)))
    # yamllint/cli.py: exit 1 when a problem is an error; warnings alone exit 0 (no --strict).
    code = 1 if any(p.level == "error" for p in problems) else 0
    return Run(code, "\n".join(Format.parsable(p, str(path)) for p in problems))
