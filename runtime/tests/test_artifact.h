//===- test_artifact.h - Building artifacts for the tests -------*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Wraps the fake compiled module (fake_module.c) into .mfa artifacts, with
// hooks to damage the manifest before it is checksummed.
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_TESTS_TEST_ARTIFACT_H
#define MF_RUNTIME_TESTS_TEST_ARTIFACT_H

#include "mf/runtime/api.h"
#include "mf/runtime/artifact.h"

#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

namespace mf::test {

/// Returns the bytes of the file at `path`.
inline std::string readFile(const char *path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

/// Returns the bytes of the fake module's shared object.
inline const std::string &fakeModuleBytes() {
  static const std::string bytes = readFile(MF_FAKE_MODULE_PATH);
  return bytes;
}

/// Returns the bytes of the fake module built with a bias of 100 in add.
inline const std::string &biasedFakeModuleBytes() {
  static const std::string bytes = readFile(MF_FAKE_MODULE_BIASED_PATH);
  return bytes;
}

/// The entries of the default manifest: add (dynamic N) and scale (static
/// and dynamic dims, a rank-0 f64).
inline const char *kDefaultEntries =
    R"([{"name":"add","symbol":"_mf_entry_add","host_blob":"host","args":[)"
    R"({"name":"a","role":"input","dtype":"f32","shape":["N"]},)"
    R"({"name":"b","role":"input","dtype":"f32","shape":["N"]},)"
    R"({"name":"out","role":"output","dtype":"f32","shape":["N"]}]},)"
    R"({"name":"scale","symbol":"_mf_entry_scale","host_blob":"host","args":[)"
    R"({"name":"x","role":"input","dtype":"f32","shape":[2,"S",3]},)"
    R"({"name":"alpha","role":"input","dtype":"f64","shape":[]},)"
    R"({"name":"out","role":"output","dtype":"f32","shape":[2,"S",3]}]}])";

/// Returns a JSON blob record.
inline std::string blobRecord(const std::string &name, uint64_t offset,
                              const std::string &bytes) {
  return R"({"name":")" + name + R"(","kind":"elf-shared-object","offset":)" +
         std::to_string(offset) + R"(,"size":)" + std::to_string(bytes.size()) +
         R"(,"checksum":")" +
         mf::artifact::formatChecksum(
             mf::artifact::fnv1a64(bytes.data(), bytes.size())) +
         R"("})";
}

/// Returns the default manifest with the host blob `host` at `base`.
inline std::string defaultManifest(uint64_t base, const std::string &host) {
  return R"({"format_version":1,"target":"cpu","chip":"x86-64",)"
         R"("producer":"mf-runtime-tests","blobs":[)" +
         blobRecord("host", base, host) + R"(],"entries":)" + kDefaultEntries +
         "}";
}

/// Edits the manifest text (given the blob base) before it is checksummed.
using ManifestEdit = std::function<std::string(std::string, uint64_t)>;

/// Builds an artifact holding `host` (by default the fake module),
/// optionally with an edited manifest. The blob region always holds `host`
/// at its base.
inline std::string makeArtifact(const ManifestEdit &edit = nullptr,
                                const std::string &host = fakeModuleBytes()) {
  uint64_t base = 0;
  std::string manifest = mf::artifact::renderManifest(
      [&](uint64_t at) {
        std::string text = defaultManifest(at, host);
        return edit ? edit(std::move(text), at) : text;
      },
      base);
  return mf::artifact::assembleArtifact(manifest, {{base, host}});
}

/// Replaces the first occurrence of `from` in `text` (which must contain it).
inline std::string replaceFirst(std::string text, const std::string &from,
                                const std::string &to) {
  size_t at = text.find(from);
  if (at != std::string::npos)
    text.replace(at, from.size(), to);
  return text;
}

/// Loads `bytes` as a module; returns the status (the module is released).
inline mf_status_t tryLoad(const std::string &bytes) {
  mf_runtime_t *runtime = nullptr;
  if (mf_status_t status = mf_runtime_create(&runtime))
    return status;
  mf_module_t *module = nullptr;
  mf_status_t status =
      mf_module_load_memory(runtime, bytes.data(), bytes.size(), &module);
  mf_module_release(module);
  mf_runtime_release(runtime);
  return status;
}

} // namespace mf::test

#endif // MF_RUNTIME_TESTS_TEST_ARTIFACT_H
