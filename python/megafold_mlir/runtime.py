"""A ctypes binding over the mf runtime's C API (mf/runtime/api.h).

    from megafold_mlir import Module, outputs_like
    module = Module.load_file("ops.mfa")          # or Runtime().load_file(...)
    attention = module["attention_full"]
    out, = outputs_like(attention, q, k, v, mask, bias, gate)
    attention(q, k, v, mask, bias, gate, out)     # inputs then outputs

Arguments are torch tensors in manifest order; outputs are written in place.
CUDA tensors run through mf_function_invoke_async on torch's current stream
of their device (or `stream=`, a torch.cuda.Stream or a raw CUstream int), so
the call is ordered with surrounding torch work and returns before the kernels
finish; CPU tensors run through mf_function_invoke, which blocks. The runtime
checks every tensor against the manifest and refuses a mismatch with an
INVALID_ARGUMENT naming the argument; here it surfaces as MFError.

The library is $MF_RUNTIME_LIB, else libmf_runtime.so from the repository's
build directories (build-device/runtime/lib, build/runtime/lib, ...). torch is
imported only by the calls that take or make tensors.
"""

import ctypes
import glob
import json
import os
import struct
from collections import namedtuple

MAX_RANK = 8
DEVICE_CPU, DEVICE_CUDA, DEVICE_HIP = 0, 1, 2

# mf_dtype_t values and their manifest spellings.
DTYPES = {"f32": 1, "f64": 2, "f16": 3, "bf16": 4, "i1": 5, "i8": 6,
          "i32": 7, "i64": 8}
_DTYPE_NAMES = {code: name for name, code in DTYPES.items()}
_TORCH_NAMES = {"f32": "float32", "f64": "float64", "f16": "float16",
                "bf16": "bfloat16", "i1": "bool", "i8": "int8",
                "i32": "int32", "i64": "int64"}

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_LIB_NAME = "libmf_runtime.so"


class MFError(RuntimeError):
    """A non-OK mf_status_t: `code` (int), `code_name` ("INVALID_ARGUMENT"),
    `message` and `source` ("file:line" in the runtime's sources)."""

    def __init__(self, code, code_name, message, source=""):
        super().__init__(f"{code_name}: {message}")
        self.code, self.code_name = code, code_name
        self.message, self.source = message, source


class _Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int32),
                ("rank", ctypes.c_int32),
                ("dims", ctypes.c_int64 * MAX_RANK),
                ("strides", ctypes.c_int64 * MAX_RANK),
                ("device", ctypes.c_int32)]


class _ArgInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("is_output", ctypes.c_int),
                ("dtype", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("dims", ctypes.c_int64 * MAX_RANK),
                ("dim_symbols", ctypes.c_char_p * MAX_RANK)]


# One manifest argument: dtype is the manifest spelling ("bf16"), dims hold
# -1 for a dynamic dim, symbols the dynamic dims' symbols (None if static).
ArgInfo = namedtuple("ArgInfo", "name is_output dtype dims symbols")

_P = ctypes.c_void_p
_SIGNATURES = {  # name: (restype, argtypes)
    "mf_status_code": (ctypes.c_int, [_P]),
    "mf_status_message": (ctypes.c_char_p, [_P]),
    "mf_status_source": (None, [_P, ctypes.POINTER(ctypes.c_char_p),
                                ctypes.POINTER(ctypes.c_int)]),
    "mf_status_free": (None, [_P]),
    "mf_status_code_name": (ctypes.c_char_p, [ctypes.c_int]),
    "mf_runtime_create": (_P, [ctypes.POINTER(_P)]),
    "mf_runtime_release": (None, [_P]),
    "mf_module_load_file": (_P, [_P, ctypes.c_char_p, ctypes.POINTER(_P)]),
    "mf_module_load_memory": (_P, [_P, ctypes.c_char_p, ctypes.c_size_t,
                                   ctypes.POINTER(_P)]),
    "mf_module_release": (None, [_P]),
    "mf_module_target": (ctypes.c_char_p, [_P]),
    "mf_module_chip": (ctypes.c_char_p, [_P]),
    "mf_module_producer": (ctypes.c_char_p, [_P]),
    "mf_module_entry_count": (ctypes.c_size_t, [_P]),
    "mf_module_entry_name": (ctypes.c_char_p, [_P, ctypes.c_size_t]),
    "mf_module_lookup_function": (_P, [_P, ctypes.c_char_p,
                                       ctypes.POINTER(_P)]),
    "mf_function_name": (ctypes.c_char_p, [_P]),
    "mf_function_arg_count": (ctypes.c_size_t, [_P]),
    "mf_function_arg_info": (_P, [_P, ctypes.c_size_t,
                                  ctypes.POINTER(_ArgInfo)]),
    "mf_function_invoke": (_P, [_P, ctypes.POINTER(_Tensor),
                                ctypes.c_size_t]),
}
# Newer symbols, looked up on first use: a runtime without them still runs
# CPU modules.
_OPTIONAL = {
    "mf_function_invoke_async": (_P, [_P, ctypes.POINTER(_Tensor),
                                      ctypes.c_size_t, _P]),
    "mf_device_synchronize": (_P, [_P, ctypes.c_int]),
}

_lib = None


def library_path():
    """The libmf_runtime.so this process uses (see the module docstring)."""
    env = os.environ.get("MF_RUNTIME_LIB")
    if env:
        if not os.path.isfile(env):
            raise FileNotFoundError(f"MF_RUNTIME_LIB={env} does not exist")
        return env
    dirs = [os.path.join(_REPO, d, "runtime", "lib")
            for d in ("build-device", "build", "build-rt")]
    dirs += sorted(glob.glob(os.path.join(_REPO, "build*", "runtime", "lib")))
    dirs += sorted(glob.glob(os.path.join(_REPO, "build*", "lib")))
    for d in dirs:
        path = os.path.join(d, _LIB_NAME)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"no {_LIB_NAME} under {_REPO}/build*/; build "
                            "the runtime or set MF_RUNTIME_LIB")


def _library():
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(library_path(), mode=ctypes.RTLD_GLOBAL)
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        _lib = lib
    return _lib


_optional_functions = {}


def _optional(name):
    """The optional C function `name`, or an MFError(UNIMPLEMENTED)."""
    fn = _optional_functions.get(name)
    if fn is None:
        lib = _library()
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise MFError(12, "UNIMPLEMENTED", f"{lib._name} has no {name} "
                          "(a runtime built before the CUDA backend?)") \
                from None
        fn.restype, fn.argtypes = _OPTIONAL[name]
        _optional_functions[name] = fn
    return fn


def _check(status):
    """Raises the MFError of a non-NULL status (and frees it)."""
    if not status:
        return
    lib = _library()
    try:
        code = lib.mf_status_code(status)
        name = (lib.mf_status_code_name(code) or b"?").decode()
        message = (lib.mf_status_message(status) or b"").decode(
            errors="replace")
        file, line = ctypes.c_char_p(), ctypes.c_int()
        lib.mf_status_source(status, ctypes.byref(file), ctypes.byref(line))
        source = f"{(file.value or b'').decode()}:{line.value}"
    finally:
        lib.mf_status_free(status)
    raise MFError(code, name, message, source)


def _str(value):
    return value.decode() if value is not None else None


def _device_code(device):
    if device in (DEVICE_CPU, DEVICE_CUDA, DEVICE_HIP):
        return device
    return {"cpu": DEVICE_CPU, "cuda": DEVICE_CUDA, "hip": DEVICE_HIP}[device]


class Runtime:
    """An mf_runtime_t: every backend built into the library."""

    _default = None

    def __init__(self):
        lib = _library()
        handle = _P()
        _check(lib.mf_runtime_create(ctypes.byref(handle)))
        self._handle = handle

    @classmethod
    def default(cls):
        """One shared runtime per process."""
        if cls._default is None:
            cls._default = cls()
        return cls._default

    def load_file(self, path):
        handle = _P()
        _check(_library().mf_module_load_file(
            self._handle, os.fsencode(path), ctypes.byref(handle)))
        return Module(self, handle)

    def load_memory(self, data):
        data = bytes(data)
        handle = _P()
        _check(_library().mf_module_load_memory(
            self._handle, data, len(data), ctypes.byref(handle)))
        return Module(self, handle)

    def synchronize(self, device="cuda"):
        """Waits for the runtime's work on `device` (mf_device_synchronize)."""
        _check(_optional("mf_device_synchronize")(self._handle,
                                                  _device_code(device)))

    def __del__(self):
        if getattr(self, "_handle", None) and _lib is not None:
            _lib.mf_runtime_release(self._handle)
            self._handle = None


class Module:
    """A loaded artifact (mf_module_t); module[name] gives an entry point."""

    def __init__(self, runtime, handle):
        self.runtime, self._handle = runtime, handle
        self._functions = {}

    @classmethod
    def load_file(cls, path, runtime=None):
        return (runtime or Runtime.default()).load_file(path)

    @property
    def target(self):
        return _str(_library().mf_module_target(self._handle))

    @property
    def chip(self):
        return _str(_library().mf_module_chip(self._handle))

    @property
    def producer(self):
        return _str(_library().mf_module_producer(self._handle))

    @property
    def entries(self):
        lib = _library()
        return [_str(lib.mf_module_entry_name(self._handle, i))
                for i in range(lib.mf_module_entry_count(self._handle))]

    def function(self, name):
        if name not in self._functions:
            handle = _P()
            _check(_library().mf_module_lookup_function(
                self._handle, name.encode(), ctypes.byref(handle)))
            self._functions[name] = Function(self, handle)
        return self._functions[name]

    __getitem__ = function

    def __contains__(self, name):
        return name in self.entries

    def __repr__(self):
        return (f"<mf Module target={self.target} chip={self.chip} "
                f"entries={self.entries}>")

    def __del__(self):
        if getattr(self, "_handle", None) and _lib is not None:
            _lib.mf_module_release(self._handle)
            self._handle = None


class Function:
    """An entry point (mf_function_t); keeps its module alive."""

    def __init__(self, module, handle):
        self.module, self._handle = module, handle
        lib = _library()
        self.name = _str(lib.mf_function_name(handle))
        self.args = []
        for i in range(lib.mf_function_arg_count(handle)):
            info = _ArgInfo()
            _check(lib.mf_function_arg_info(handle, i, ctypes.byref(info)))
            rank = info.rank
            dims = tuple(info.dims[d] for d in range(rank))
            symbols = tuple(_str(info.dim_symbols[d]) if dims[d] < 0 else None
                            for d in range(rank))
            self.args.append(ArgInfo(
                _str(info.name), bool(info.is_output),
                _DTYPE_NAMES.get(info.dtype, f"invalid({info.dtype})"),
                dims, symbols))

    @property
    def inputs(self):
        return [a for a in self.args if not a.is_output]

    @property
    def outputs(self):
        return [a for a in self.args if a.is_output]

    def signature(self):
        """E.g. "attention(q: bf16[1,S,N,4,32], ...) -> (result0: ...)"."""
        def fmt(a):
            dims = ",".join(s if s is not None else str(d)
                            for d, s in zip(a.dims, a.symbols))
            return f"{a.name}: {a.dtype}[{dims}]"
        return (f"{self.name}({', '.join(fmt(a) for a in self.inputs)}) -> "
                f"({', '.join(fmt(a) for a in self.outputs)})")

    def __repr__(self):
        return f"<mf Function {self.signature()}>"

    def _arg_name(self, index):
        if index < len(self.args):
            return f"'{self.args[index].name}'"
        return f"#{index}"

    def _tensor(self, index, t):
        torch = _torch()
        dtype = _TORCH_TO_MF.get(t.dtype)
        if dtype is None:
            raise TypeError(f"{self.name}: argument {self._arg_name(index)}: "
                            f"torch dtype {t.dtype} has no mf dtype")
        if t.dim() > MAX_RANK:
            raise ValueError(f"{self.name}: argument {self._arg_name(index)}: "
                             f"rank {t.dim()} > {MAX_RANK}")
        m = _Tensor()
        m.data = t.data_ptr() or None
        m.dtype = dtype
        m.rank = t.dim()
        for d, extent in enumerate(t.shape):
            m.dims[d] = extent
        if not t.is_contiguous():  # zeros mean dense row-major
            for d, stride in enumerate(t.stride()):
                m.strides[d] = stride
        if t.device.type == "cpu":
            m.device = DEVICE_CPU
        elif t.device.type == "cuda":
            m.device = DEVICE_HIP if torch.version.hip else DEVICE_CUDA
        else:
            raise ValueError(f"{self.name}: argument {self._arg_name(index)}: "
                             f"unsupported device {t.device}")
        return m

    def __call__(self, *tensors, stream=None):
        """Runs the entry on `tensors` (inputs then outputs, manifest order).

        CUDA tensors: enqueued on `stream` (torch.cuda.Stream, CUstream int,
        or None for torch's current stream of the tensors' device); returns
        before the work finishes. CPU tensors: blocks until done.
        """
        array = (_Tensor * max(len(tensors), 1))(
            *(self._tensor(i, t) for i, t in enumerate(tensors)))
        gpu = [t for t in tensors if t.device.type == "cuda"]
        lib = _library()
        if not gpu:
            if stream is not None:
                raise ValueError(f"{self.name}: a stream was given but every "
                                 "tensor is on the CPU")
            _check(lib.mf_function_invoke(self._handle, array, len(tensors)))
            return
        torch = _torch()
        device = gpu[0].device
        if stream is None:
            stream = torch.cuda.current_stream(device).cuda_stream
        elif hasattr(stream, "cuda_stream"):
            stream = stream.cuda_stream
        invoke_async = _optional("mf_function_invoke_async")
        with torch.cuda.device(device):
            _check(invoke_async(self._handle, array, len(tensors),
                                _P(stream or None)))

    def run(self, *inputs, stream=None):
        """Allocates the outputs (outputs_like), runs, returns them."""
        outputs = outputs_like(self, *inputs)
        self(*inputs, *outputs, stream=stream)
        return outputs


def outputs_like(function, *inputs):
    """New (torch.empty) output tensors for `function` called on `inputs`.

    Dynamic output dims take the value their symbol has in the inputs (the
    first occurrence, as the runtime binds it); dtypes come from the
    manifest; the device is the first input's (CPU with no inputs).
    """
    torch = _torch()
    expected = function.inputs
    if len(inputs) != len(expected):
        raise ValueError(f"{function.name}: {len(inputs)} inputs given, the "
                         f"manifest has {len(expected)}: "
                         f"{function.signature()}")
    bound = {}
    for info, t in zip(expected, inputs):
        if t.dim() != len(info.dims):
            raise ValueError(f"{function.name}: input '{info.name}' has rank "
                             f"{t.dim()}, the manifest says {len(info.dims)}")
        for d, symbol in enumerate(info.symbols):
            if symbol is not None:
                bound.setdefault(symbol, t.shape[d])
    device = inputs[0].device if inputs else torch.device("cpu")
    outputs = []
    for info in function.outputs:
        shape = []
        for d, (extent, symbol) in enumerate(zip(info.dims, info.symbols)):
            if symbol is not None:
                if symbol not in bound:
                    raise ValueError(f"{function.name}: output '{info.name}' "
                                     f"dim {d} ('{symbol}') is not a dim of "
                                     "any input")
                extent = bound[symbol]
            shape.append(extent)
        outputs.append(torch.empty(shape, dtype=torch_dtype(info.dtype),
                                   device=device))
    return outputs


def torch_dtype(name):
    """The torch dtype of a manifest dtype name ("bf16" -> torch.bfloat16)."""
    return getattr(_torch(), _TORCH_NAMES[name])


_TORCH_TO_MF = {}


def _torch():
    import torch
    if not _TORCH_TO_MF:
        for name, torch_name in _TORCH_NAMES.items():
            _TORCH_TO_MF[getattr(torch, torch_name)] = DTYPES[name]
    return torch


def read_artifact(path):
    """Parses a .mfa without the runtime: (manifest dict, {blob name: bytes}).

    Checks the magic and the sizes only (the runtime checks the rest).
    """
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 32 or data[:8] != b"MFART\0\0\1":
        raise ValueError(f"{path}: not an mf artifact (bad magic)")
    version, _, size, _ = struct.unpack_from("<IIQQ", data, 8)
    if 32 + size > len(data):
        raise ValueError(f"{path}: manifest runs past the end of the file")
    manifest = json.loads(data[32:32 + size].decode())
    blobs = {}
    for blob in manifest.get("blobs", []):
        start, length = int(blob["offset"]), int(blob["size"])
        if start + length > len(data):
            raise ValueError(f"{path}: blob {blob['name']} runs past the end")
        blobs[blob["name"]] = data[start:start + length]
    return manifest, blobs
