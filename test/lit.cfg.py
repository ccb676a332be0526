# -*- Python -*-
# lit configuration of the MegaFold-MLIR test suite.

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "MEGAFOLD"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.mf_obj_root, "test")
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%mf_src_root", config.mf_src_root))
config.substitutions.append(("%examples", os.path.join(config.mf_src_root, "examples")))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

tool_dirs = [config.mf_tools_dir, config.llvm_tools_dir]
tools = [
    ToolSubst("mf-opt", unresolved="fatal"),
    ToolSubst("mf-compile", unresolved="fatal"),
    ToolSubst("mf-run", unresolved="fatal"),
    ToolSubst("%mf_numerics", command=os.path.join(config.mf_tools_dir, "mf-numerics")),
    ToolSubst("%mf_make_fake_artifact", command=os.path.join(config.mf_tools_dir, "mf-numerics-make-fake-artifact")),
    "not",
    "count",
    "llvm-readobj",
    "llvm-readelf",
    "llvm-objdump",
]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# The cuda target's device code needs CUDA's ptxas, fatbinary and libdevice
# (in the image at /usr/local/cuda; CUDA_HOME overrides).
cuda_home = os.environ.get("CUDA_HOME", "/usr/local/cuda")
if os.path.exists(os.path.join(cuda_home, "bin", "ptxas")) and os.path.isdir(
    os.path.join(cuda_home, "nvvm", "libdevice")
):
    config.available_features.add("cuda-toolkit")
    config.substitutions.append(("%ptxas", os.path.join(cuda_home, "bin", "ptxas")))
    if "CUDA_HOME" in os.environ:
        config.environment["CUDA_HOME"] = cuda_home

# mf-cache (tools/mf-cache): AF3 inputs -> feature cache files; its tests
# read the shared data at ../shared/data from the project root.
llvm_config.add_tool_substitutions([ToolSubst("mf-cache", unresolved="fatal")], tool_dirs)
config.substitutions.append(("%shared_data", os.path.join(config.mf_src_root, "..", "shared", "data")))

# mf-af3 (tools/mf-af3): the Pairformer trunk driver over mf-cache's caches.
llvm_config.add_tool_substitutions([ToolSubst("mf-af3", unresolved="fatal")], tool_dirs)

# The runtime's fake CUDA driver (runtime/tests): loads a compiled cuda
# artifact up to the driver boundary on a machine without a GPU.
fake_cuda = os.path.join(config.mf_obj_root, "runtime", "tests", "libmf_fake_cuda.so")
if os.path.exists(fake_cuda):
    config.available_features.add("fake-cuda-driver")
    config.substitutions.append(("%fake_cuda_driver", fake_cuda))

# The rocm target needs Debian's rocm-device-libs (ocml/ockl bitcode);
# mf-compile makes a ROCM_PATH of links to it.
if os.path.isdir("/usr/lib/x86_64-linux-gnu/amdgcn/bitcode") or "ROCM_PATH" in os.environ:
    config.available_features.add("rocm-device-libs")
    if "ROCM_PATH" in os.environ:
        config.environment["ROCM_PATH"] = os.environ["ROCM_PATH"]
fake_hip = os.path.join(config.mf_obj_root, "runtime", "tests", "libmf_fake_amdhip64.so")
if os.path.exists(fake_hip):
    config.available_features.add("fake-hip-runtime")
    config.substitutions.append(("%fake_hip_runtime", fake_hip))
