//===- mf-cache.cpp - build and inspect ahead-of-time feature caches ------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// mf-cache build INPUT... -o OUTDIR [--ccd PATH]... [--shard I/N] [--jobs N]
//                         [--max-msa-rows N] [--quiet]
//                         [--msa [STEM:]CHAIN=PATH]... [--paired-msa ...]...
//                         [--keep-crystallization-aids]
// mf-cache info FILE
// mf-cache bench INPUT.json|FILE.cif|FILE.mfc [--ccd PATH]... [--iters K]
//
// build featurizes AlphaFold3 input JSONs and mmCIF structures (*.cif,
// *.mmcif, optionally .gz; a folder stands for its *.json and structures)
// into OUTDIR/<stem>.mfc, one file per example, over a pool of threads
// (all cores by default). Inputs are sorted by path and input k goes to
// shard k mod N == I (0-based), so the N jobs of a cluster array split any
// set of inputs without overlap. Inputs needing what the CCD lacks (or a
// SMILES ligand) are skipped with the reason; malformed inputs are errors
// (exit status 1). --ccd reads a components.cif or a folder of component
// files (repeatable; later ones override); by default the project's CCD
// subset (../shared/data/ccd).
//
// mmCIF inputs go through gemmi into the JSON route's input (Structure.h says
// what enters). Their MSAs are given per chain: --msa CHAIN=PATH (.a3m or
// .sto) for the unpaired MSA, --paired-msa for the paired one; CHAIN is a
// label_asym_id or an author chain id with one polymer; STEM: restricts it
// to the structure file of that stem (e.g. 102m:A=...). Chains without one
// run on their query row, with a note.
//
// info verifies a cache (every checksum) and prints its tensors and
// metadata; it exits 1 on a corrupt, truncated or malformed file.
//
// bench times featurizing an input (reading the JSON and MSAs included; the
// CCD is indexed once beforehand) against loading its cache (mmap + verify
// every checksum), median of K runs each.
//
//===----------------------------------------------------------------------===//

#include "Featurize.h"
#include "Structure.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace mf::cache;

namespace {

int usage() {
  std::fprintf(
      stderr,
      "usage: mf-cache build INPUT... -o OUTDIR [--ccd PATH]... [--shard I/N]\n"
      "                      [--jobs N] [--max-msa-rows N] [--quiet]\n"
      "                      [--msa [STEM:]CHAIN=PATH]... [--paired-msa "
      "[STEM:]CHAIN=PATH]...\n"
      "                      [--keep-crystallization-aids]\n"
      "       (INPUT: AF3 input .json, mmCIF .cif[.gz], or a folder of them)\n"
      "       mf-cache info FILE\n"
      "       mf-cache bench INPUT.json|FILE.cif|FILE.mfc [--ccd PATH]... "
      "[--iters K]\n");
  return 2;
}

bool isDirectory(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool endsWith(const std::string &s, const char *suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

std::string stem(const std::string &path) {
  if (isStructurePath(path))
    return structureStem(path);
  size_t slash = path.rfind('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

bool makeDirectories(const std::string &path) {
  for (size_t pos = 1; pos <= path.size(); ++pos)
    if (pos == path.size() || path[pos] == '/') {
      std::string prefix = path.substr(0, pos);
      if (mkdir(prefix.c_str(), 0777) != 0 && errno != EEXIST)
        return false;
    }
  return isDirectory(path);
}

/// Loads the --ccd paths, or the default subset.
bool loadCcd(const std::vector<std::string> &paths, Ccd &ccd) {
  std::vector<std::string> all = paths;
#ifdef MF_CACHE_DEFAULT_CCD
  if (all.empty() && isDirectory(MF_CACHE_DEFAULT_CCD))
    all.push_back(MF_CACHE_DEFAULT_CCD);
#endif
  if (all.empty()) {
    std::fprintf(stderr, "mf-cache: error: no CCD: pass --ccd PATH\n");
    return false;
  }
  for (const std::string &path : all) {
    std::string error;
    if (!ccd.addPath(path, error)) {
      std::fprintf(stderr, "mf-cache: error: %s\n", error.c_str());
      return false;
    }
  }
  return true;
}

bool parseInt(const char *text, int &out) {
  char *end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (!*text || *end || value < 0 || value > 1 << 30)
    return false;
  out = static_cast<int>(value);
  return true;
}

struct Job {
  std::string path;
  bool fromFolder = false;
  enum { Pending, Built, Skipped, Failed } state = Pending;
  std::string message;
  std::string notes; // featurizer notes, one per line
  FeaturizeSummary summary;
};

/// Reads an input JSON or an mmCIF structure. Built, NotCovered (skip) or
/// Error; `notAnInput` is set for JSON files that are not inputs at all.
Outcome readAny(const std::string &path, const StructureOptions &structure,
                Input &input, std::string &error, bool &notAnInput) {
  notAnInput = false;
  if (isStructurePath(path))
    return readStructure(path, structure, input, error);
  if (readInput(path, input, error))
    return Outcome::Built;
  notAnInput = input.notAnInput;
  return Outcome::Error;
}

/// Featurizes one input and writes its cache.
void runJob(Job &job, Ccd &ccd, const FeaturizeOptions &options,
            const StructureOptions &structure, const std::string &outDir) {
  Input input;
  std::string error;
  bool notAnInput = false;
  switch (readAny(job.path, structure, input, error, notAnInput)) {
  case Outcome::Built:
    break;
  case Outcome::NotCovered:
    job.state = Job::Skipped;
    job.message = error;
    return;
  case Outcome::Error:
    job.state = notAnInput && job.fromFolder ? Job::Skipped : Job::Failed;
    job.message = error;
    return;
  }
  Writer writer;
  std::string message;
  switch (featurize(input, ccd, options, writer, job.summary, message)) {
  case Outcome::NotCovered:
    job.state = Job::Skipped;
    job.message = message;
    return;
  case Outcome::Error:
    job.state = Job::Failed;
    job.message = job.path + ": " + message;
    return;
  case Outcome::Built:
    break;
  }
  std::string out = outDir + "/" + stem(job.path) + ".mfc";
  mf::runtime::Status status = writer.write(out);
  if (!status.ok()) {
    job.state = Job::Failed;
    job.message = out + ": " + status.message();
    return;
  }
  job.state = Job::Built;
  job.message = out;
  job.notes = message;
}

int build(int argc, char **argv) {
  std::vector<std::string> inputs, ccdPaths;
  std::string outDir;
  int shardIndex = 0, shardCount = 1, jobs = 0;
  bool quiet = false;
  FeaturizeOptions options;
  StructureOptions structure;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char * {
      return i + 1 < argc ? argv[++i] : nullptr;
    };
    if (arg == "-o" || arg == "--ccd" || arg == "--shard" || arg == "--jobs" ||
        arg == "--max-msa-rows" || arg == "--msa" || arg == "--paired-msa") {
      const char *v = value();
      if (!v)
        return usage();
      if (arg == "--msa" || arg == "--paired-msa") {
        // [STEM:]CHAIN=PATH; the first '=' ends the chain (ids have none).
        std::string s = v;
        size_t eq = s.find('=');
        StructureMsa msa;
        msa.paired = arg == "--paired-msa";
        std::string key = eq == std::string::npos ? "" : s.substr(0, eq);
        size_t colon = key.find(':');
        if (colon != std::string::npos) {
          msa.structure = key.substr(0, colon);
          key = key.substr(colon + 1);
        }
        msa.chain = key;
        if (eq != std::string::npos)
          msa.path = s.substr(eq + 1);
        if (msa.chain.empty() || msa.path.empty()) {
          std::fprintf(stderr, "mf-cache: error: %s wants [STEM:]CHAIN=PATH\n",
                       arg.c_str());
          return 2;
        }
        structure.msas.push_back(msa);
      } else if (arg == "-o") {
        outDir = v;
      } else if (arg == "--ccd") {
        ccdPaths.push_back(v);
      } else if (arg == "--shard") {
        std::string s = v;
        size_t slash = s.find('/');
        if (slash == std::string::npos ||
            !parseInt(s.substr(0, slash).c_str(), shardIndex) ||
            !parseInt(s.substr(slash + 1).c_str(), shardCount) ||
            shardCount < 1 || shardIndex >= shardCount) {
          std::fprintf(stderr, "mf-cache: error: --shard wants I/N with "
                               "0 <= I < N\n");
          return 2;
        }
      } else if (arg == "--jobs") {
        if (!parseInt(v, jobs) || jobs < 1)
          return usage();
      } else if (!parseInt(v, options.maxMsaRows) || options.maxMsaRows < 1) {
        return usage();
      }
    } else if (arg == "--quiet" || arg == "-q") {
      quiet = true;
    } else if (arg == "--keep-crystallization-aids") {
      structure.keepCrystallizationAids = true;
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "mf-cache: error: unknown option '%s'\n", arg.c_str());
      return usage();
    } else {
      inputs.push_back(arg);
    }
  }
  if (inputs.empty() || outDir.empty())
    return usage();

  // Expand folders, sort and deduplicate: the order (and so the shards)
  // depends only on the set of paths.
  std::vector<Job> all;
  for (const std::string &path : inputs) {
    if (!isDirectory(path)) {
      all.emplace_back();
      all.back().path = path;
      continue;
    }
    DIR *dir = opendir(path.c_str());
    if (!dir) {
      std::fprintf(stderr, "mf-cache: error: cannot read '%s'\n", path.c_str());
      return 1;
    }
    while (dirent *entry = readdir(dir)) {
      std::string name = entry->d_name;
      if (endsWith(name, ".json") || isStructurePath(name)) {
        all.emplace_back();
        all.back().path = path + "/" + name;
        all.back().fromFolder = true;
      }
    }
    closedir(dir);
  }
  std::sort(all.begin(), all.end(),
            [](const Job &a, const Job &b) { return a.path < b.path; });
  all.erase(std::unique(all.begin(), all.end(),
                        [](const Job &a, const Job &b) { return a.path == b.path; }),
            all.end());
  std::vector<Job> mine;
  for (size_t k = 0; k < all.size(); ++k)
    if (static_cast<int>(k % shardCount) == shardIndex)
      mine.push_back(all[k]);

  Ccd ccd;
  if (!loadCcd(ccdPaths, ccd))
    return 1;
  if (!makeDirectories(outDir)) {
    std::fprintf(stderr, "mf-cache: error: cannot create '%s'\n", outDir.c_str());
    return 1;
  }

  if (jobs == 0)
    jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  jobs = std::max(1, std::min<int>(jobs, static_cast<int>(mine.size())));
  bool progress = !quiet && mine.size() > 1 && isatty(STDERR_FILENO);
  std::atomic<size_t> next{0};
  size_t done = 0;
  std::mutex mutex;
  auto drawBar = [&]() {
    const int width = 30;
    int filled = static_cast<int>(width * done / mine.size());
    std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), done, mine.size());
    std::fflush(stderr);
  };
  if (progress)
    drawBar();
  auto worker = [&]() {
    for (size_t k; (k = next++) < mine.size();) {
      runJob(mine[k], ccd, options, structure, outDir);
      std::lock_guard<std::mutex> lock(mutex);
      ++done;
      if (progress)
        drawBar();
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < jobs; ++t)
    threads.emplace_back(worker);
  worker();
  for (std::thread &thread : threads)
    thread.join();
  if (progress)
    std::fprintf(stderr, "\n");

  // Report in input order, so the output does not depend on scheduling.
  int built = 0, skipped = 0, failed = 0;
  for (const Job &job : mine) {
    if (job.state == Job::Built) {
      ++built;
      if (!quiet)
        std::printf("built %s (%d tokens, %d MSA rows) -> %s\n",
                    stem(job.path).c_str(), job.summary.numTokens,
                    job.summary.numMsaRows, job.message.c_str());
      if (!quiet)
        for (size_t p = 0, e; (e = job.notes.find('\n', p)) != std::string::npos;
             p = e + 1)
          std::printf("  note: %s\n", job.notes.substr(p, e - p).c_str());
    } else if (job.state == Job::Skipped) {
      ++skipped;
      if (!quiet)
        std::printf("skipped %s: %s\n", stem(job.path).c_str(),
                    job.message.c_str());
    } else {
      ++failed;
      std::fprintf(stderr, "mf-cache: error: %s\n", job.message.c_str());
    }
  }
  std::printf("mf-cache: %d built, %d skipped, %d failed (shard %d/%d of %zu "
              "inputs)\n",
              built, skipped, failed, shardIndex, shardCount, all.size());
  return failed ? 1 : 0;
}

int info(int argc, char **argv) {
  if (argc != 1)
    return usage();
  auto cache = FeatureCache::open(argv[0], MF_FEATURE_CACHE_ANY_VERSION);
  if (!cache.ok()) {
    std::fprintf(stderr, "mf-cache: error: %s\n",
                 cache.status().message());
    return 1;
  }
  std::printf("file: %s\nfeature-set version: %u\ntensors: %zu\n", argv[0],
              cache->version(), cache->tensorCount());
  for (size_t i = 0; i < cache->tensorCount(); ++i) {
    auto view = cache->tensor(i);
    if (!view.ok())
      return 1;
    std::string shape = "[";
    for (int32_t d = 0; d < view->rank; ++d)
      shape += (d ? ", " : "") + std::to_string(view->dims[d]);
    shape += "]";
    std::printf("  %-30s %-4s %s\n", view->name,
                mf_cache_dtype_name(view->dtype), shape.c_str());
  }
  std::printf("metadata:\n");
  size_t checksums = 0;
  for (size_t i = 0; i < mf_feature_cache_metadata_count(cache->get()); ++i) {
    std::string key = mf_feature_cache_metadata_key(cache->get(), i);
    if (key.rfind("mf_checksum.", 0) == 0) {
      ++checksums;
      continue;
    }
    std::string value = cache->metadata(key);
    for (size_t p; (p = value.find('\n')) != std::string::npos;)
      value.replace(p, 1, "; ");
    std::printf("  %s: %s\n", key.c_str(), value.c_str());
  }
  std::printf("checksums: %zu verified\n", checksums);
  return 0;
}

double seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int bench(int argc, char **argv) {
  std::string target;
  std::vector<std::string> ccdPaths;
  int iters = 5;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--ccd" && i + 1 < argc)
      ccdPaths.push_back(argv[++i]);
    else if (arg == "--iters" && i + 1 < argc) {
      if (!parseInt(argv[++i], iters) || iters < 1)
        return usage();
    } else if (target.empty() && arg[0] != '-')
      target = arg;
    else
      return usage();
  }
  if (target.empty())
    return usage();

  std::string cachePath = target;
  bool temporary = false;
  if (endsWith(target, ".json") || isStructurePath(target)) {
    Ccd ccd;
    if (!loadCcd(ccdPaths, ccd))
      return 1;
    std::vector<double> times;
    Writer last;
    FeaturizeSummary summary;
    for (int i = 0; i < iters; ++i) {
      auto start = std::chrono::steady_clock::now();
      Input input;
      std::string error;
      bool notAnInput = false;
      if (readAny(target, StructureOptions(), input, error, notAnInput) !=
          Outcome::Built) {
        std::fprintf(stderr, "mf-cache: error: %s\n", error.c_str());
        return 1;
      }
      Writer writer;
      Outcome outcome =
          featurize(input, ccd, FeaturizeOptions(), writer, summary, error);
      if (outcome != Outcome::Built) {
        std::fprintf(stderr, "mf-cache: %s: %s\n",
                     outcome == Outcome::NotCovered ? "not covered" : "error",
                     error.c_str());
        return 1;
      }
      std::string bytes; // serializing is part of producing the features
      if (!writer.serialize(bytes).ok())
        return 1;
      times.push_back(seconds(start));
      last = std::move(writer);
    }
    const char *tmp = std::getenv("TMPDIR");
    cachePath = std::string(tmp && *tmp ? tmp : "/tmp") + "/mf-cache-bench-" +
                std::to_string(getpid()) + ".mfc";
    temporary = true;
    mf::runtime::Status status = last.write(cachePath);
    if (!status.ok()) {
      std::fprintf(stderr, "mf-cache: error: %s\n", status.message());
      return 1;
    }
    std::printf("featurize %s (%d tokens, %d MSA rows): %.3f ms (median of "
                "%d)\n",
                stem(target).c_str(), summary.numTokens, summary.numMsaRows,
                median(times) * 1e3, iters);
    double featurizeMs = median(times) * 1e3;
    std::vector<double> loads;
    for (int i = 0; i < iters; ++i) {
      auto start = std::chrono::steady_clock::now();
      auto cache = FeatureCache::open(cachePath, kFeatureSetVersion);
      if (!cache.ok()) {
        std::fprintf(stderr, "mf-cache: error: %s\n", cache.status().message());
        return 1;
      }
      loads.push_back(seconds(start));
    }
    double loadMs = median(loads) * 1e3;
    // Without hashing the tensor bytes: the cost of the mapping and header
    // checks alone (hashing dominates the verified load).
    std::vector<double> fast;
    for (int i = 0; i < iters; ++i) {
      auto start = std::chrono::steady_clock::now();
      auto cache = FeatureCache::open(cachePath, kFeatureSetVersion,
                                      MF_FEATURE_CACHE_SKIP_CHECKSUMS);
      if (!cache.ok())
        return 1;
      fast.push_back(seconds(start));
    }
    std::printf("load (mmap + verify checksums, page cache warm): %.3f ms "
                "(median of %d)\nload (mmap, header checks only): %.3f ms\n"
                "speedup (featurize / verified load): %.1fx\n",
                loadMs, iters, median(fast) * 1e3, featurizeMs / loadMs);
    if (temporary)
      std::remove(cachePath.c_str());
    return 0;
  }

  std::vector<double> loads;
  for (int i = 0; i < iters; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto cache = FeatureCache::open(cachePath, MF_FEATURE_CACHE_ANY_VERSION);
    if (!cache.ok()) {
      std::fprintf(stderr, "mf-cache: error: %s\n", cache.status().message());
      return 1;
    }
    loads.push_back(seconds(start));
  }
  std::printf("load (mmap + verify checksums): %.3f ms (median of %d); pass "
              "the input JSON to time featurizing too\n",
              median(loads) * 1e3, iters);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    return usage();
  std::string command = argv[1];
  if (command == "build")
    return build(argc - 2, argv + 2);
  if (command == "info")
    return info(argc - 2, argv + 2);
  if (command == "bench")
    return bench(argc - 2, argv + 2);
  if (command == "-h" || command == "--help") {
    usage();
    return 0;
  }
  return usage();
}
