//===- make_fake_artifact.cpp - Wraps fake_kernels into an .mfa --*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
//   mf-numerics-make-fake-artifact [--so LIB] --dtype f32|bf16 [--unfused]
//                                  [--untied] [--rename] -o out.mfa
//
// Writes an artifact with the manifest mf-compile is meant to write for
// Inputs/ops_<dtype>.mlir, its code being fake_kernels.cpp. --unfused maps
// the *_unfused entries to code that rounds its intermediates (what
// --no-fusion gives); --untied gives every dynamic dim its own symbol and
// --rename names the arguments arg0, arg1, ... (both to check that
// mf-numerics notices). LIB defaults to the fake kernels library the build
// made (MF_FAKE_KERNELS_PATH). A test of the test: not part of the product.
//
//===----------------------------------------------------------------------===//

#include "mf/runtime/artifact.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

struct FakeArg {
  const char *name; // result0, ... for outputs
  const char *type; // "T", "i1", "f32"
  const char *shape;
};

struct FakeEntry {
  const char *name;
  std::vector<FakeArg> args; // inputs then outputs (named result*)
};

const std::vector<FakeEntry> &entries() {
  static const std::vector<FakeEntry> table = {
      {"attention_full",
       {{"q", "T", "1,S,N,4,32"}, {"k", "T", "1,S,N,4,32"},
        {"v", "T", "1,S,N,4,32"}, {"mask", "i1", "1,S,1,1,N"},
        {"bias", "T", "1,1,4,N,N"}, {"gate", "T", "1,S,N,4,32"},
        {"result0", "T", "1,S,N,4,32"}}},
      {"attention_nogate",
       {{"q", "T", "1,S,N,8,32"}, {"k", "T", "1,S,N,8,32"},
        {"v", "T", "1,S,N,8,32"}, {"mask", "i1", "1,S,1,1,N"},
        {"bias", "T", "1,1,8,N,N"}, {"result0", "T", "1,S,N,8,32"}}},
      {"attention_plain",
       {{"q", "T", "1,S,N,8,8"}, {"k", "T", "1,S,N,8,8"},
        {"v", "T", "1,S,N,8,8"}, {"result0", "T", "1,S,N,8,8"}}},
      {"attention_single",
       {{"q", "T", "1,1,N,16,24"}, {"k", "T", "1,1,N,16,24"},
        {"v", "T", "1,1,N,16,24"}, {"mask", "i1", "1,1,1,1,N"},
        {"bias", "T", "1,1,16,N,N"}, {"gate", "T", "1,1,N,16,24"},
        {"result0", "T", "1,1,N,16,24"}}},
      {"attention_lse",
       {{"q", "T", "1,S,N,2,16"}, {"k", "T", "1,S,N,2,16"},
        {"v", "T", "1,S,N,2,16"}, {"mask", "i1", "1,S,1,1,N"},
        {"bias", "T", "1,1,2,N,N"}, {"gate", "T", "1,S,N,2,16"},
        {"result0", "T", "1,S,N,2,16"}, {"result1", "f32", "1,S,2,N"}}},
      {"attention_bias_only",
       {{"q", "T", "1,S,N,2,64"}, {"k", "T", "1,S,N,2,64"},
        {"v", "T", "1,S,N,2,64"}, {"bias", "T", "1,1,2,N,N"},
        {"result0", "T", "1,S,N,2,64"}}},
      {"layernorm",
       {{"x", "T", "N,128"}, {"gamma", "T", "128"}, {"beta", "T", "128"},
        {"result0", "T", "N,128"}}},
      {"linear",
       {{"x", "T", "N,128"}, {"w", "T", "516,128"}, {"b", "T", "516"},
        {"result0", "T", "N,516"}}},
      {"linear_nobias",
       {{"x", "T", "N,128"}, {"w", "T", "4,128"}, {"result0", "T", "N,4"}}},
      {"layernorm_linear",
       {{"x", "T", "N,128"}, {"gamma", "T", "128"}, {"beta", "T", "128"},
        {"w", "T", "132,128"}, {"b", "T", "132"}, {"result0", "T", "N,132"}}},
      {"ln_linear_unfused",
       {{"x", "T", "N,128"}, {"gamma", "T", "128"}, {"beta", "T", "128"},
        {"w", "T", "132,128"}, {"b", "T", "132"}, {"result0", "T", "N,132"}}},
      {"swiglu", {{"x", "T", "N,1024"}, {"result0", "T", "N,512"}}},
      {"transition",
       {{"x", "T", "N,128"}, {"gamma", "T", "128"}, {"beta", "T", "128"},
        {"w_up", "T", "1024,128"}, {"w_down", "T", "128,512"},
        {"result0", "T", "N,128"}}},
      {"transition_unfused",
       {{"x", "T", "N,128"}, {"gamma", "T", "128"}, {"beta", "T", "128"},
        {"w_up", "T", "1024,128"}, {"w_down", "T", "128,512"},
        {"result0", "T", "N,128"}}},
  };
  return table;
}

std::string readFile(const char *path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

} // namespace

#ifndef MF_FAKE_KERNELS_PATH
#define MF_FAKE_KERNELS_PATH nullptr
#endif

int main(int argc, char **argv) {
  const char *so = MF_FAKE_KERNELS_PATH, *out = nullptr;
  std::string dtype = "f32";
  bool unfused = false, untied = false, rename = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--so" && i + 1 < argc)
      so = argv[++i];
    else if (arg == "-o" && i + 1 < argc)
      out = argv[++i];
    else if (arg == "--dtype" && i + 1 < argc)
      dtype = argv[++i];
    else if (arg == "--unfused")
      unfused = true;
    else if (arg == "--untied")
      untied = true;
    else if (arg == "--rename")
      rename = true;
    else {
      std::fprintf(stderr, "mf-numerics-make-fake-artifact: bad argument '%s'\n",
                   argv[i]);
      return 2;
    }
  }
  if (!so || !out || (dtype != "f32" && dtype != "bf16")) {
    std::fprintf(stderr, "usage: mf-numerics-make-fake-artifact [--so LIB] "
                         "--dtype f32|bf16 [--unfused] [--untied] [--rename] "
                         "-o OUT\n");
    return 2;
  }
  std::string host = readFile(so);
  if (host.empty()) {
    std::fprintf(stderr, "mf-numerics-make-fake-artifact: cannot read %s\n", so);
    return 1;
  }

  std::string entriesJson;
  int untiedCounter = 0;
  for (const FakeEntry &entry : entries()) {
    std::string name = entry.name;
    std::string code = name;
    if (!unfused && name == "transition_unfused")
      code = "transition"; // fused by default
    if (!unfused && name == "ln_linear_unfused")
      code = "layernorm_linear";
    std::string json = R"({"name":")" + name + R"(","symbol":"fake_)" + code +
                       "_" + dtype + R"(","host_blob":"host","args":[)";
    int index = 0;
    for (const FakeArg &arg : entry.args) {
      bool output = std::strncmp(arg.name, "result", 6) == 0;
      std::string argName = rename ? "arg" + std::to_string(index) : arg.name;
      std::string type = std::strcmp(arg.type, "T") == 0 ? dtype : arg.type;
      std::string shape;
      for (const char *p = arg.shape; *p; ++p) {
        if (*p == ',') {
          shape += ",";
        } else if (*p >= '0' && *p <= '9') {
          shape += *p;
        } else {
          std::string symbol(1, *p);
          if (untied)
            symbol += std::to_string(untiedCounter++);
          shape += "\"" + symbol + "\"";
        }
      }
      json += std::string(index ? "," : "") + R"({"name":")" + argName +
              R"(","role":")" + (output ? "output" : "input") +
              R"(","dtype":")" + type + R"(","shape":[)" + shape + "]}";
      ++index;
    }
    json += "]}";
    entriesJson += (entriesJson.empty() ? "" : ",") + json;
  }

  uint64_t base = 0;
  std::string manifest = mf::artifact::renderManifest(
      [&](uint64_t blobBase) {
        return R"({"format_version":1,"target":"cpu","chip":"x86-64",)"
               R"("producer":"make-fake-artifact","blobs":[{"name":"host",)"
               R"("kind":"elf-shared-object","offset":)" +
               std::to_string(blobBase) + R"(,"size":)" +
               std::to_string(host.size()) + R"(,"checksum":")" +
               mf::artifact::formatChecksum(
                   mf::artifact::fnv1a64(host.data(), host.size())) +
               R"("}],"entries":[)" + entriesJson + "]}";
      },
      base);
  std::string bytes = mf::artifact::assembleArtifact(manifest, {{base, host}});
  std::ofstream file(out, std::ios::binary);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return file ? 0 : 1;
}
