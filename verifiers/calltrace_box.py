"""Runs INSIDE the sandbox (stdlib only, Python >= 3.8): which tests call which functions of touched files.

Two uses:

* `python calltrace_box.py spans FILE...` prints JSON {file: {"functions": [[qualname, first, last, col]],
  "imports": [[first, last]]}} from the original files' ASTs (first = first decorator line), so the host
  can map a candidate's changed lines to functions.
* imported at interpreter start (a .pth file in site-packages) with SWESCALE_CALLTRACE set to a JSON
  config {"out": DIR, "root": "/testbed", "touched": [...], "tests": [...], "hooks": {runner: source}}:
  an import hook compiles the touched modules with one call to a recorder at the start of every function
  body (its line numbers unchanged; no bytecode written), so only calls of touched functions cost anything.
  At exit it writes DIR/calls-<pid>.json: {"functions": [[file, first, last]], "hits": {test key: [function
  index, ...]}, "loaded": [touched files instrumented], "elsewhere": [touched files imported from another
  path]}; meanwhile each new (test, function) pair is appended to DIR/calls-<pid>.jsonl as [key, file,
  first, last], so a process killed at its timeout still leaves what it saw. Under a runner whose hook
  brackets each test it also keeps each test's seconds ("durations": {key: seconds}; journalled as
  {"seconds": [key, seconds]}).

A test key is `func:<test file>::<function name>` for the innermost `test*` function of a test file on the
stack (any runner, a runner's in-process runs included), plus what the runners' hooks say runs now (e.g.
`node:<node id>` while a runner that names its current test in the environment runs one, which also covers
its fixtures). Subprocesses inherit the variable, so runners that start a fresh interpreter are traced too.

The hooks come from the test-runner adapters (envs/runners, `Runner.tracer_hook`): module sources run
here, each defining `current_test()` (keys of the running test, asked on each stack walk) and/or
`MODULES` and `attach(module, recorder)` (called when one of MODULES has run).

Finding the test on the stack costs a walk per call, which made heavily used modules slow (a test file
of a package's core with a core module recorded: 350 s, against 119 s untraced). Under a runner whose
reporter is told when each test starts and ends, the test is known without a walk: the runner's hook
brackets each test (Recorder.set_current), and each instrumented function records itself once per test
(`if __swescale_seen__[i] is not __swescale_epoch__: __swescale_hit__(i)`; the epoch is a new object at
every start and end of a test), so later calls in the same test cost one comparison."""

import ast
import atexit
import builtins
import json
import os
import sys
import time
from importlib.machinery import PathFinder, SourceFileLoader

ENV = "SWESCALE_CALLTRACE"
HOOK = "__swescale_hit__"
SEEN = "__swescale_seen__"  # function index -> the epoch of the test that last recorded it
EPOCH = "__swescale_epoch__"  # a new object whenever a test known to the recorder starts or ends
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _first_line(node):
    return min([node.lineno] + [d.lineno for d in node.decorator_list])


def _last_line(node):
    return getattr(node, "end_lineno", None) or max(getattr(n, "lineno", 0) for n in ast.walk(node))


def _index(node):
    """A subscript's index node (Python 3.8 wraps it in ast.Index)."""
    return ast.Index(node) if sys.version_info < (3, 9) else node


def _spans(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        tree = ast.parse(handle.read())
    functions, imports = [], []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            name = prefix
            if isinstance(child, FUNCTIONS + (ast.ClassDef,)):
                name = prefix + child.name
                if isinstance(child, FUNCTIONS):
                    functions.append([name, _first_line(child), _last_line(child), child.col_offset])
                name += "."
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                imports.append([child.lineno, _last_line(child)])
            visit(child, name)

    visit(tree, "")
    return {"functions": functions, "imports": imports}


def spans(paths):
    out = {}
    for path in paths:
        try:
            out[path] = _spans(path)
        except (OSError, SyntaxError, ValueError):
            out[path] = None
    return out


def load_hooks(sources):
    """The runners' hooks (runner name -> module source): [namespace of each]. A hook that fails to load
    is left out (its runner's tests are then found by the stack walk)."""
    hooks = []
    for name, source in sorted((sources or {}).items()):
        namespace = {"__name__": "swescale_calltrace_hook_" + name}
        try:
            exec(compile(source, "<swescale hook " + name + ">", "exec"), namespace)
        except Exception:  # noqa: BLE001 - a broken hook must not break the run it observes
            continue
        hooks.append(namespace)
    return hooks


class Recorder:
    def __init__(self, config, hooks=()):
        self.root = config.get("root", "/testbed").rstrip("/") + "/"
        self.out = config["out"]
        self.touched = {self.root + p for p in config["touched"]}
        self.tests = {self.root + p for p in config["tests"]}
        self.functions = []  # [file, first, last]
        self.hits = {}  # test key -> set of function indices
        self.loaded = []
        self._memo = {}  # frame -> test keys, for frames running inside a test
        self.current = None  # keys of the test the runner's reporter says is running, else None
        self.seen = []  # per function: the epoch it was last recorded in (builtins.__swescale_seen__)
        self._epoch = object()
        self._journal_pid, self._journal_file = None, None
        self.durations = {}  # test key -> seconds, for tests a runner's hook brackets
        self._started = None
        self._running = [h["current_test"] for h in hooks if callable(h.get("current_test"))]

    def instrument(self, tree, path):
        """Insert the guarded `__swescale_hit__(index)` first in every function body (after its docstring)."""
        relative = path[len(self.root) :]
        for node in ast.walk(tree):
            if not isinstance(node, FUNCTIONS):
                continue
            index = len(self.functions)
            self.functions.append([relative, _first_line(node), _last_line(node)])
            self.seen.append(None)
            seen = ast.Subscript(ast.Name(SEEN, ast.Load()), _index(ast.Constant(index)), ast.Load())
            call = ast.If(
                ast.Compare(seen, [ast.IsNot()], [ast.Name(EPOCH, ast.Load())]),
                [ast.Expr(ast.Call(ast.Name(HOOK, ast.Load()), [ast.Constant(index)], []))],
                [],
            )
            body = node.body
            first = body[0] if body else None
            docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            at = 1 if docstring and isinstance(first.value.value, str) else 0
            ast.copy_location(call, body[at] if at < len(body) else body[0])
            ast.fix_missing_locations(call)
            body.insert(at, call)
        self.loaded.append(relative)

    def _running_keys(self):
        """What the runners' hooks say runs now."""
        keys = []
        for current_test in self._running:
            keys += current_test()
        return keys

    def _keys(self, caller):
        """Test keys of the call stack above `caller`. Frames below a test frame are memoized with the
        test's keys, so a walk stops at the first memoized frame (recursion costs one step)."""
        memo = self._memo
        chain = []
        frame = caller
        while frame is not None:
            keys = memo.get(frame)
            if keys is not None:
                break
            code = frame.f_code
            if self._is_test(code):
                keys = self._running_keys() + [self._func_key(code)]
                chain.append(frame)
                break
            chain.append(frame)
            frame = frame.f_back
        if keys is None:  # no test on the stack (collection, fixtures): only what the hooks say runs
            return self._running_keys()
        if len(memo) > 50000:
            memo.clear()
        for frame in chain:
            memo[frame] = keys
        return keys

    def hit(self, index):
        keys = self.current
        if keys is not None:
            self.seen[index] = self._epoch  # not again in this test
        else:
            keys = self._memo.get(sys._getframe(2))  # the caller of the instrumented function
            if keys is None:
                keys = self._keys(sys._getframe(2))
        for key in keys:
            found = self.hits.get(key)
            if found is None:
                self.hits[key] = found = set()
            if index not in found:
                found.add(index)
                self._journal(key, index)

    def set_current(self, keys):
        """The runner starts (keys) or ends (None) a test: a new epoch, so every function records again.
        A test's seconds are kept (and journalled) when it ends."""
        now = time.perf_counter()
        if self.current is not None and self._started is not None:
            for key in self.current:
                self.durations[key] = round(now - self._started, 3)
                self._append({"seconds": [key, self.durations[key]]})
        self.current = keys
        self._started = now if keys is not None else None
        self._epoch = object()
        setattr(builtins, EPOCH, self._epoch)

    def test_keys(self, function):
        """The keys of a test function the runner is about to call (None: not one of the recorded files)."""
        while hasattr(function, "__wrapped__"):  # a runner's decorators (XFAIL, slow) use functools.wraps
            function = function.__wrapped__
        code = getattr(function, "__code__", None)
        return [self._func_key(code)] if code is not None and self._is_test(code) else None

    def _is_test(self, code):
        """A `test*` function of a recorded test file."""
        return code.co_filename in self.tests and code.co_name.startswith("test")

    def _func_key(self, code):
        return "func:" + code.co_filename[len(self.root) :] + "::" + code.co_name

    def _journal(self, key, index):
        """Append each new (test, function) pair at once, so a run killed at its timeout keeps them."""
        self._append([key] + self.functions[index])

    def _append(self, entry):
        pid = os.getpid()
        if self._journal_pid != pid:  # first use, or a forked child
            try:
                self._journal_file = open(os.path.join(self.out, f"calls-{pid}.jsonl"), "a", buffering=1)
            except OSError:
                self._journal_file = None
            self._journal_pid = pid
        if self._journal_file is not None:
            self._journal_file.write(json.dumps(entry) + "\n")

    def write(self):
        elsewhere = []  # touched files imported without the recorder (another path or loader)
        for module in list(sys.modules.values()):
            filename = getattr(module, "__file__", None) or ""
            for path in self.touched:
                relative = path[len(self.root) :]
                if filename.endswith("/" + relative) and relative not in self.loaded:
                    elsewhere.append(relative)
        data = {
            "functions": self.functions,
            "hits": {k: sorted(v) for k, v in self.hits.items()},
            "loaded": self.loaded,
            "elsewhere": sorted(set(elsewhere)),
            "durations": self.durations,
        }
        try:
            with open(os.path.join(self.out, f"calls-{os.getpid()}.json"), "w") as handle:
                json.dump(data, handle)
        except OSError:
            pass


class Loader(SourceFileLoader):
    recorder = None

    def get_code(self, fullname):
        source = self.get_data(self.path)
        try:
            tree = ast.parse(source, self.path)
        except (SyntaxError, ValueError):
            return super().get_code(fullname)
        self.recorder.instrument(tree, self.path)
        return compile(tree, self.path, "exec", dont_inherit=True)


class Finder:
    def __init__(self, recorder, hooks=()):
        self.recorder = recorder
        self.watched = {}  # module name -> the attach() of the hook watching it
        for hook in hooks:
            if callable(hook.get("attach")):
                self.watched.update(dict.fromkeys(hook.get("MODULES", ()), hook["attach"]))

    def find_spec(self, name, path=None, target=None):
        spec = None
        for finder in [f for f in sys.meta_path if f is not self] or [PathFinder]:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find else None
            if spec is not None:
                break
        if spec is None:
            return None
        ours = spec.origin in self.recorder.touched and isinstance(spec.loader, SourceFileLoader)
        if ours:
            spec.loader = Loader(name, spec.origin)
            spec.loader.recorder = self.recorder
        if name in self.watched and hasattr(spec.loader, "exec_module"):
            self._watch(spec, self.watched[name])
            ours = True
        return spec if ours else None

    def _watch(self, spec, attach):
        """A runner's module: its hook attaches once the module has run."""
        run, recorder = spec.loader.exec_module, self.recorder

        def exec_module(module):
            run(module)
            attach(module, recorder)

        spec.loader.exec_module = exec_module

    def invalidate_caches(self):
        pass


def install():
    try:
        with open(os.environ[ENV]) as handle:
            config = json.load(handle)
    except (OSError, ValueError, KeyError):
        return
    hooks = load_hooks(config.get("hooks"))
    recorder = Recorder(config, hooks)
    setattr(builtins, HOOK, recorder.hit)
    setattr(builtins, SEEN, recorder.seen)
    setattr(builtins, EPOCH, recorder._epoch)
    sys.meta_path.insert(0, Finder(recorder, hooks))
    atexit.register(recorder.write)


if __name__ == "__main__":
    if sys.argv[1:2] == ["spans"]:
        print(json.dumps(spans(sys.argv[2:])))
elif os.environ.get(ENV):
    install()
