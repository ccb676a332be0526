//===- artifact_test.cc - Damaged and malformed artifacts are refused -----===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//

#include "test_artifact.h"

#include <gtest/gtest.h>

#include <string>

using namespace mf::test;
using mf::artifact::alignTo;
using mf::artifact::kHeaderSize;

namespace {

/// Expects loading `bytes` to fail with `code` and a message containing
/// `text`.
void expectRefused(const std::string &bytes, mf_status_code_t code,
                   const std::string &text) {
  mf_status_t status = tryLoad(bytes);
  ASSERT_NE(status, nullptr) << "loaded, but wanted: " << text;
  EXPECT_EQ(mf_status_code(status), code)
      << mf_status_code_name(mf_status_code(status)) << ": "
      << mf_status_message(status);
  EXPECT_NE(std::string(mf_status_message(status)).find(text),
            std::string::npos)
      << "message: " << mf_status_message(status) << "\nwanted: " << text;
  mf_status_free(status);
}

/// Expects an artifact with an edited manifest to be refused.
void expectEditRefused(const ManifestEdit &edit, mf_status_code_t code,
                       const std::string &text) {
  expectRefused(makeArtifact(edit), code, text);
}

/// Returns a manifest edit replacing the first `from` with `to`.
ManifestEdit replacing(const std::string &from, const std::string &to) {
  return [=](std::string text, uint64_t) {
    EXPECT_NE(text.find(from), std::string::npos) << from;
    return replaceFirst(std::move(text), from, to);
  };
}

TEST(ArtifactTest, TheDefaultArtifactLoads) {
  mf_status_t status = tryLoad(makeArtifact());
  EXPECT_EQ(status, nullptr) << mf_status_message(status);
  mf_status_free(status);
}

TEST(ArtifactTest, HeaderRoundTripsAndChecksumsAreSpelledOut) {
  mf::artifact::Header header;
  header.manifestSize = 0x1122334455667788ull;
  header.manifestChecksum = 42;
  unsigned char bytes[kHeaderSize];
  mf::artifact::encodeHeader(header, bytes);
  mf::artifact::Header decoded;
  ASSERT_TRUE(mf::artifact::decodeHeader(bytes, decoded));
  EXPECT_EQ(decoded.formatVersion, 1u);
  EXPECT_EQ(decoded.manifestSize, header.manifestSize);
  EXPECT_EQ(decoded.manifestChecksum, 42u);
  EXPECT_EQ(bytes[16], 0x88);
  EXPECT_EQ(mf::artifact::formatChecksum(0xabcull), "0x0000000000000abc");
  uint64_t value = 0;
  EXPECT_TRUE(mf::artifact::parseChecksum("0xDEADbeef00000001", value));
  EXPECT_EQ(value, 0xdeadbeef00000001ull);
  EXPECT_FALSE(mf::artifact::parseChecksum("0xdeadbeef", value));
  EXPECT_FALSE(mf::artifact::parseChecksum("0xdeadbeef0000000g", value));
  EXPECT_EQ(mf::artifact::fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
}

TEST(ArtifactTest, TruncatedFilesAreRefused) {
  std::string bytes = makeArtifact();
  expectRefused("", MF_STATUS_DATA_LOSS, "truncated artifact: it is empty");
  expectRefused(bytes.substr(0, 5), MF_STATUS_DATA_LOSS, "shorter than the");
  expectRefused(bytes.substr(0, 31), MF_STATUS_DATA_LOSS, "shorter than the");
  expectRefused(bytes.substr(0, 32), MF_STATUS_DATA_LOSS,
                "truncated artifact: the manifest of");
  expectRefused(bytes.substr(0, 200), MF_STATUS_DATA_LOSS,
                "truncated artifact: the manifest of");
  size_t blobStart = bytes.size() - fakeModuleBytes().size();
  for (size_t cut : {blobStart, blobStart + 1, bytes.size() - 1})
    expectRefused(bytes.substr(0, cut), MF_STATUS_DATA_LOSS,
                  "extends past the end of the file");
}

TEST(ArtifactTest, BadMagicVersionAndReservedAreRefused) {
  std::string bytes = makeArtifact();
  std::string badMagic = bytes;
  badMagic[0] = 'X';
  expectRefused(badMagic, MF_STATUS_INVALID_ARGUMENT,
                "not an mf artifact: bad magic");
  expectRefused("ELF\x7f", MF_STATUS_INVALID_ARGUMENT, "bad magic");
  std::string badVersion = bytes;
  badVersion[8] = 2;
  expectRefused(badVersion, MF_STATUS_INCOMPATIBLE,
                "artifact format version 2 is not supported");
  std::string badReserved = bytes;
  badReserved[12] = 1;
  expectRefused(badReserved, MF_STATUS_INVALID_ARGUMENT, "reserved field");
  expectEditRefused(replacing(R"("format_version":1)", R"("format_version":2)"),
                    MF_STATUS_INCOMPATIBLE, "format_version must be 1");
}

TEST(ArtifactTest, FlippedBytesAreCaughtByChecksums) {
  std::string bytes = makeArtifact();
  std::string manifestFlip = bytes;
  manifestFlip[kHeaderSize + 10] ^= 0x01;
  expectRefused(manifestFlip, MF_STATUS_DATA_LOSS,
                "manifest checksum mismatch");
  std::string checksumFlip = bytes;
  checksumFlip[24] ^= 0x80;
  expectRefused(checksumFlip, MF_STATUS_DATA_LOSS,
                "manifest checksum mismatch");
  for (size_t fromEnd :
       {size_t(1), fakeModuleBytes().size() / 2, fakeModuleBytes().size()}) {
    std::string blobFlip = bytes;
    blobFlip[bytes.size() - fromEnd] ^= 0x40;
    expectRefused(blobFlip, MF_STATUS_DATA_LOSS,
                  "blob 'host' checksum mismatch");
  }
}

TEST(ArtifactTest, BadBlobPlacementIsRefused) {
  const std::string &host = fakeModuleBytes();
  uint64_t hostEnd = 0;
  auto pastEnd = [&](std::string text, uint64_t base) {
    hostEnd = base + host.size();
    return replaceFirst(std::move(text), R"("offset":)" + std::to_string(base),
                        R"("offset":)" +
                            std::to_string(alignTo(hostEnd, 64) + 6400));
  };
  expectEditRefused(pastEnd, MF_STATUS_DATA_LOSS,
                    "extends past the end of the file");
  expectEditRefused(
      [&](std::string text, uint64_t base) {
        return replaceFirst(std::move(text),
                            R"("offset":)" + std::to_string(base),
                            R"("offset":)" + std::to_string(base + 8));
      },
      MF_STATUS_INVALID_ARGUMENT, "is not a multiple of 64");
  expectEditRefused(
      [&](std::string text, uint64_t base) {
        return replaceFirst(std::move(text),
                            R"("offset":)" + std::to_string(base),
                            R"("offset":0)");
      },
      MF_STATUS_INVALID_ARGUMENT, "overlaps the header and manifest");
  // A second blob inside the first.
  expectEditRefused(
      [&](std::string text, uint64_t base) {
        return replaceFirst(
            std::move(text), R"("blobs":[)",
            R"("blobs":[)" +
                blobRecord("extra", base + 128, host.substr(128, 64)) + ",");
      },
      MF_STATUS_INVALID_ARGUMENT, "blobs 'host' [");
  expectEditRefused(
      [&](std::string text, uint64_t base) {
        return replaceFirst(std::move(text), R"("blobs":[)",
                            R"("blobs":[)" + blobRecord("host", base, host) +
                                ",");
      },
      MF_STATUS_INVALID_ARGUMENT, "two blobs are named 'host'");
  expectEditRefused(replacing(R"("checksum":"0x)", R"("checksum":"0y)"),
                    MF_STATUS_INVALID_ARGUMENT, "is not \"0x\" and 16 hex");
}

TEST(ArtifactTest, HostileJsonIsRefused) {
  auto replaceAll = [](const std::string &manifest) {
    return [=](std::string, uint64_t) { return manifest; };
  };
  expectEditRefused(replaceAll(std::string(100000, '[')),
                    MF_STATUS_INVALID_ARGUMENT, "deeper than 64 levels");
  expectEditRefused(replaceAll(std::string(50000, '{') + "}"),
                    MF_STATUS_INVALID_ARGUMENT, "malformed JSON");
  std::string deepArrays;
  for (int i = 0; i < 30000; ++i)
    deepArrays += "[1,";
  expectEditRefused(replaceAll(deepArrays), MF_STATUS_INVALID_ARGUMENT,
                    "deeper than 64 levels");
  const char *malformed[] = {"",
                             "{",
                             "{\"a\":}",
                             "{\"a\" 1}",
                             "[1,]",
                             "{\"a\":1,}",
                             "\"unterminated",
                             "{\"a\":01}",
                             "{\"a\":-}",
                             "{\"a\":1e}",
                             "{\"a\":\"\\x\"}",
                             "{\"a\":\"\\ud800\"}",
                             "{\"a\":\"\\u0000\"}",
                             "{\"a\":\"\x01\"}",
                             "{} {}",
                             "nul",
                             "{\"a\":1,\"a\":2}",
                             "{\"a\":\"\\u12\"}"};
  for (const char *text : malformed)
    expectEditRefused(replaceAll(text), MF_STATUS_INVALID_ARGUMENT,
                      "malformed JSON");
  expectEditRefused(replaceAll("[]"), MF_STATUS_INVALID_ARGUMENT,
                    "top level must be an object");
  expectEditRefused(replaceAll("{}"), MF_STATUS_INVALID_ARGUMENT,
                    "missing the field 'format_version'");
  // Huge integers and non-integers are not sizes.
  expectEditRefused(
      replacing(R"("size":)", R"("size":99999999999999999999,"x":)"),
      MF_STATUS_INVALID_ARGUMENT,
      "blobs[0] 'host'.size must be a non-negative integer");
  expectEditRefused(replacing(R"("size":)", R"("size":-1,"x":)"),
                    MF_STATUS_INVALID_ARGUMENT,
                    "blobs[0] 'host'.size must be a non-negative integer");
}

TEST(ArtifactTest, SchemaErrorsAreNamed) {
  expectEditRefused(replacing(R"("target":"cpu",)", ""),
                    MF_STATUS_INVALID_ARGUMENT,
                    "the top level is missing the field 'target'");
  expectEditRefused(replacing(R"("entries":)", R"("entries":{},"x":)"),
                    MF_STATUS_INVALID_ARGUMENT,
                    "manifest: entries must be an array but is an object");
  expectEditRefused(
      replacing(R"("dtype":"f64")", R"("dtype":"f8")"),
      MF_STATUS_INVALID_ARGUMENT,
      "entries[1] 'scale'.args[1] 'alpha'.dtype: unknown dtype 'f8'");
  expectEditRefused(
      replacing(R"([2,"S",3])", "[1,1,1,1,1,1,1,1,1]"),
      MF_STATUS_INVALID_ARGUMENT,
      "entries[1] 'scale'.args[0] 'x': rank 9 exceeds the maximum "
      "rank 8");
  expectEditRefused(replacing(R"(["N"])", R"([-1])"),
                    MF_STATUS_INVALID_ARGUMENT,
                    "args[0] 'a'.shape[0] must be a non-negative integer or a "
                    "symbol");
  expectEditRefused(replacing(R"("role":"input")", R"("role":"inout")"),
                    MF_STATUS_INVALID_ARGUMENT,
                    "role is 'inout' but must be 'input' or 'output'");
  expectEditRefused(replacing(R"("name":"a","role":"input")",
                              R"("name":"a","role":"output")"),
                    MF_STATUS_INVALID_ARGUMENT,
                    "input 'b' comes after an output");
  expectEditRefused(replacing(R"("name":"b")", R"("name":"a")"),
                    MF_STATUS_INVALID_ARGUMENT, "two arguments are named 'a'");
  expectEditRefused(replacing(R"("name":"scale")", R"("name":"add")"),
                    MF_STATUS_INVALID_ARGUMENT, "two entries are named 'add'");
  expectEditRefused(replacing(R"("symbol":"_mf_entry_add",)", ""),
                    MF_STATUS_INVALID_ARGUMENT,
                    "entries[0] 'add' is missing the field 'symbol'");
  expectEditRefused(replacing(R"("host_blob":"host")", R"("host_blob":"gpu")"),
                    MF_STATUS_INVALID_ARGUMENT,
                    "host_blob 'gpu' names no blob");
  expectEditRefused(replacing(R"("host_blob":"host",)", ""),
                    MF_STATUS_INVALID_ARGUMENT, "entry 'add' has no host_blob");
  expectEditRefused(
      replacing(R"("kind":"elf-shared-object")", R"("kind":"cubin")"),
      MF_STATUS_INVALID_ARGUMENT, "has kind 'cubin' but target cpu needs");
}

TEST(ArtifactTest, UnknownTargetsAndSymbolsAreRefused) {
  // (The list goes on with "cuda" and "rocm" when those backends are built.)
  expectEditRefused(replacing(R"("target":"cpu")", R"("target":"tpu")"),
                    MF_STATUS_UNIMPLEMENTED,
                    "artifact target 'tpu' is not supported by this runtime "
                    "(available: cpu");
  expectEditRefused(replacing("_mf_entry_scale", "_mf_entry_missing"),
                    MF_STATUS_NOT_FOUND,
                    "entry 'scale': symbol '_mf_entry_missing' not found");
  // A blob that is not a shared object.
  expectEditRefused(
      [](std::string text, uint64_t base) {
        return replaceFirst(
            std::move(text), blobRecord("host", base, fakeModuleBytes()),
            blobRecord("host", base, fakeModuleBytes().substr(0, 100)));
      },
      MF_STATUS_INVALID_ARGUMENT, "cannot load blob 'host' as a shared object");
}

TEST(ArtifactTest, UnknownFieldsAreIgnored) {
  std::string bytes = makeArtifact(
      replacing(R"("chip":"x86-64",)",
                R"("chip":"x86-64","future":{"x":[1.5,true,null]},)"));
  mf_status_t status = tryLoad(bytes);
  EXPECT_EQ(status, nullptr) << mf_status_message(status);
  mf_status_free(status);
}

} // namespace
