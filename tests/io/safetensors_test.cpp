#include "io/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "core/error.h"
#include "io/safetensors_fixture.h"

namespace mofa::io {
namespace {

using testing::as_bytes;
using ::testing::HasSubstr;
using testing::st_build;
using testing::st_raw;
using testing::StTensor;
using testing::TempDir;
using testing::write_file;

// Opens `bytes` written as `name` and returns the InvalidInput message ("" if none was thrown).
std::string open_error(const TempDir& dir, const std::string& bytes,
                       const std::string& name = "bad.safetensors") {
  const std::string path = dir.file(name);
  write_file(path, bytes);
  try {
    SafetensorsFile::open(path);
  } catch (const InvalidInput& e) {
    return e.what();
  }
  return "";
}

std::string entry_header(const std::string& entry) {
  return "{\"w\":" + entry + "}";
}

TEST(Safetensors, RoundTripsEveryDtype) {
  TempDir dir;
  const std::vector<float> fv{1.5f, -2.25f, 3.0f, 0.0f, 1e-3f, -7.0f};
  const std::vector<int32_t> iv{-1, 2, -3, 2147483647};
  const std::vector<uint32_t> uv{0u, 1u, 0xdeadbeefu};
  const std::vector<uint8_t> u8v{0, 7, 255};
  const std::vector<int64_t> i64v{-5, int64_t{1} << 40};
  const std::vector<uint8_t> boolv{1, 0, 1, 1};
  const std::vector<double> f64v{3.25};
  write_file(dir.file("all.safetensors"),
             st_build({{"f32", "F32", {2, 3}, as_bytes(fv)},
                       {"f16", "F16", {6}, testing::f16_bytes(fv)},
                       {"bf16", "BF16", {3, 2}, testing::bf16_bytes(fv)},
                       {"i32", "I32", {4}, as_bytes(iv)},
                       {"u32", "U32", {1, 3}, as_bytes(uv)},
                       {"u8", "U8", {3}, as_bytes(u8v)},
                       {"i64", "I64", {2}, as_bytes(i64v)},
                       {"bool", "BOOL", {2, 2}, as_bytes(boolv)},
                       {"f64", "F64", {1}, as_bytes(f64v)},
                       {"scalar", "F32", {}, as_bytes(std::vector<float>{42.0f})},
                       {"empty", "F32", {0, 3}, ""}},
                      {{"format", "pt"}}));
  auto f = SafetensorsFile::open(dir.file("all.safetensors"));
  EXPECT_EQ(f->names().size(), 11u);
  EXPECT_EQ(f->metadata().value("format", ""), "pt");

  Tensor t = f->get("f32");
  EXPECT_EQ(t.dtype(), DType::f32);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.data<float>()[i], fv[i]);
  Tensor h = f->get("f16");
  EXPECT_EQ(h.dtype(), DType::f16);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(h.get_f32(i), fv[i], 1e-3);
  Tensor b = f->get("bf16");
  EXPECT_EQ(b.dtype(), DType::bf16);
  EXPECT_EQ(b.shape(), (Shape{3, 2}));
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(b.get_f32(i), fv[i], std::abs(fv[i]) / 128 + 1e-6);
  EXPECT_EQ(f->get("i32").data<int32_t>()[3], 2147483647);
  EXPECT_EQ(f->get("i32").data<int32_t>()[0], -1);
  EXPECT_EQ(f->get("u32").data<uint32_t>()[2], 0xdeadbeefu);
  EXPECT_EQ(f->get("u8").data<uint8_t>()[2], 255);
  EXPECT_EQ(f->get("i64").data<int64_t>()[1], int64_t{1} << 40);
  EXPECT_EQ(f->get("bool").dtype(), DType::boolean);
  EXPECT_EQ(f->get("bool").data<uint8_t>()[1], 0);
  EXPECT_EQ(f->get("scalar").numel(), 1);
  EXPECT_EQ(f->get("scalar").data<float>()[0], 42.0f);
  EXPECT_EQ(f->get("empty").numel(), 0);
  EXPECT_EQ(f->get("empty").shape(), (Shape{0, 3}));
  // A valid dtype mofa has no DType for: the header validates, get() says so.
  EXPECT_EQ(f->info("f64").dtype, "F64");
  EXPECT_THROW(f->get("f64"), Unsupported);
  EXPECT_THROW(f->get("nope"), InvalidInput);
}

TEST(Safetensors, GetIsZeroCopyIntoTheMapping) {
  TempDir dir;
  const std::vector<float> a{1, 2, 3, 4}, b{5, 6};
  write_file(dir.file("m.safetensors"),
             st_build({{"a", "F32", {4}, as_bytes(a)}, {"b", "F32", {2}, as_bytes(b)}}));
  auto f = SafetensorsFile::open(dir.file("m.safetensors"));
  Tensor ta = f->get("a"), tb = f->get("b");
  EXPECT_FALSE(ta.writable());  // read-only mapping, not a copy
  EXPECT_EQ(ta.storage().get(), tb.storage().get());
  EXPECT_EQ(ta.offset(), f->data_offset() + f->info("a").begin);
  EXPECT_EQ(tb.offset(), f->data_offset() + 16);
  EXPECT_EQ(std::memcmp(tb.raw(), b.data(), 8), 0);
  EXPECT_TRUE(f->metadata().is_object());
}

TEST(Safetensors, MisalignedTensorIsCopiedOnceAndAligned) {
  TempDir dir;
  // An unpadded header of odd length puts the data section at an odd offset.
  const std::vector<float> v{1.25f, -3.5f, 8.0f};
  std::string bytes;
  for (size_t pad = 0; pad < 4; ++pad) {
    bytes = st_build({{"v", "F32", {3}, as_bytes(v)}}, nullptr, 1, pad);
    if ((bytes.size() - 12) % 4 != 0) break;
  }
  write_file(dir.file("odd.safetensors"), bytes);
  auto f = SafetensorsFile::open(dir.file("odd.safetensors"));
  ASSERT_NE(f->data_offset() % 4, 0u);
  Tensor t = f->get("v");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % alignof(float), 0u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(t.data<float>()[i], v[i]);
  EXPECT_EQ(f->get("v").raw(), t.raw());  // the copy is made once
}

TEST(Safetensors, RejectsFilesTooShortForTheLength) {
  TempDir dir;
  for (std::string bytes : {std::string(), std::string("\x02\0\0", 3)}) {
    std::string msg = open_error(dir, bytes, "short.safetensors");
    EXPECT_THAT(msg, HasSubstr("short.safetensors"));
    EXPECT_THAT(msg, HasSubstr("too short"));
  }
}

TEST(Safetensors, RejectsHeaderLengthBeyondFileOrAbsurd) {
  TempDir dir;
  std::string big = st_raw("{}", "");
  big[0] = 100;  // claims 100 bytes of header, has 2
  std::string msg = open_error(dir, big, "len.safetensors");
  EXPECT_THAT(msg, HasSubstr("len.safetensors"));
  EXPECT_THAT(msg, HasSubstr("header length 100 exceeds"));

  std::string absurd = st_raw("{}", "");
  absurd[5] = 1;  // 2^40 + 2
  msg = open_error(dir, absurd, "absurd.safetensors");
  EXPECT_THAT(msg, HasSubstr("absurd.safetensors"));
  EXPECT_THAT(msg, HasSubstr("absurd"));
}

TEST(Safetensors, RejectsHeaderThatIsNotAJsonObject) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, st_raw("{\"w\": {", "")), HasSubstr("not valid JSON"));
  EXPECT_THAT(open_error(dir, st_raw("[1, 2]", "")), HasSubstr("must be a JSON object"));
  EXPECT_THAT(open_error(dir, st_raw(std::string(5000, '['), "")), HasSubstr("nests deeper"));
  EXPECT_THAT(open_error(dir, st_raw("{\"__metadata__\": 3}", "")),
              HasSubstr("__metadata__ must be an object"));
  EXPECT_THAT(open_error(dir, st_raw("{}", "")), ::testing::IsEmpty());  // empty file is valid
  std::string dup = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})";
  EXPECT_THAT(open_error(dir, st_raw(dup, std::string(4, '\0'))),
              HasSubstr("tensor 'w' appears twice"));
}

struct BadEntry {
  const char* entry;  // JSON for tensor "w" over 8 data bytes
  const char* expect;
};

class SafetensorsBadEntry : public ::testing::TestWithParam<BadEntry> {};

TEST_P(SafetensorsBadEntry, NamesFileTensorAndDefect) {
  TempDir dir;
  std::string msg = open_error(dir, st_raw(entry_header(GetParam().entry), std::string(8, '\0')),
                               "model-00001-of-00002.safetensors");
  EXPECT_THAT(msg, HasSubstr(dir.file("model-00001-of-00002.safetensors")));
  EXPECT_THAT(msg, HasSubstr("tensor 'w'"));
  EXPECT_THAT(msg, HasSubstr(GetParam().expect));
}

INSTANTIATE_TEST_SUITE_P(
    Corruptions, SafetensorsBadEntry,
    ::testing::Values(
        BadEntry{R"("F32")", "entry must be an object"},
        BadEntry{R"({"shape":[2],"data_offsets":[0,8]})", "missing 'dtype'"},
        BadEntry{R"({"dtype":"F32","data_offsets":[0,8]})", "missing 'shape'"},
        BadEntry{R"({"dtype":"F32","shape":[2]})", "missing 'data_offsets'"},
        BadEntry{R"({"dtype":7,"shape":[2],"data_offsets":[0,8]})", "'dtype' must be a string"},
        BadEntry{R"({"dtype":"F32","shape":2,"data_offsets":[0,8]})", "'shape' must be an array"},
        BadEntry{R"({"dtype":"F32","shape":[2],"data_offsets":"0-8"})",
                 "'data_offsets' must be an array"},
        BadEntry{R"({"dtype":"F32","shape":["2"],"data_offsets":[0,8]})",
                 "shape entries must be non-negative integers"},
        BadEntry{R"({"dtype":"F32","shape":[2.5],"data_offsets":[0,8]})",
                 "shape entries must be non-negative integers"},
        BadEntry{R"({"dtype":"F17","shape":[2],"data_offsets":[0,8]})", "unknown dtype 'F17'"},
        BadEntry{R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})", "negative dimension"},
        BadEntry{R"({"dtype":"F32","shape":[2],"data_offsets":[0]})", "must be [begin, end]"},
        BadEntry{R"({"dtype":"F32","shape":[2],"data_offsets":[0,8,16]})", "must be [begin, end]"},
        BadEntry{R"({"dtype":"F32","shape":[2],"data_offsets":[-8,8]})", "two non-negative"},
        BadEntry{R"({"dtype":"F32","shape":[0],"data_offsets":[8,0]})", "begin > end"},
        BadEntry{R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})",
                 "end beyond the data section of 8 bytes"},
        BadEntry{R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})", "needs 12"},
        BadEntry{R"({"dtype":"BF16","shape":[2],"data_offsets":[0,8]})", "needs 4"},
        BadEntry{
            R"({"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]})",
            "impossibly large"},
        BadEntry{R"({"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,8]})",
                 "non-negative integers"},
        BadEntry{R"({"dtype":"F32","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]})",
                 "has 9 dimensions; at most 8 are supported"}));

TEST(Safetensors, RejectsTruncatedFile) {
  TempDir dir;
  const std::vector<float> v(64, 1.0f);
  std::string good = st_build({{"a", "F32", {64}, as_bytes(v)}, {"b", "F32", {64}, as_bytes(v)}});
  std::string msg = open_error(dir, good.substr(0, good.size() - 100), "cut.safetensors");
  EXPECT_THAT(msg, HasSubstr("cut.safetensors"));
  EXPECT_THAT(msg, HasSubstr("tensor 'b'"));
  EXPECT_THAT(msg, HasSubstr("truncated"));
}

TEST(Safetensors, RejectsOverlappingTensors) {
  TempDir dir;
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  std::string msg = open_error(dir, st_raw(header, std::string(12, '\0')), "ov.safetensors");
  EXPECT_THAT(msg, HasSubstr("ov.safetensors"));
  EXPECT_THAT(msg, HasSubstr("tensor 'b' bytes [4, 12) overlap tensor 'a' bytes [0, 8)"));
  // Zero-size tensors may sit anywhere, even inside another tensor's bytes.
  std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})";
  EXPECT_EQ(open_error(dir, st_raw(ok, std::string(8, '\0'))), "");
}

// Random byte flips, truncations and length edits of a valid file: open() must either succeed with
// every tensor in bounds or throw InvalidInput / Unsupported, never crash or throw anything else.
TEST(Safetensors, SurvivesRandomCorruption) {
  TempDir dir(/*in_memory=*/true);
  const std::string good =
      st_build({{"a.weight", "U32", {2, 3}, as_bytes(std::vector<uint32_t>(6, 7))},
                {"a.scales", "BF16", {2, 1}, testing::bf16_bytes({1.0f, 2.0f})},
                {"b", "F32", {3}, as_bytes(std::vector<float>{1, 2, 3})},
                {"c", "I64", {1}, as_bytes(std::vector<int64_t>{9})}},
               {{"format", "mlx"}});
  std::mt19937 rng(1234);
  int opened = 0, rejected = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    std::string bytes = good;
    const int kind = iter % 3;
    if (kind == 0) {  // flip a few bytes anywhere in the header
      for (int k = 0; k < 1 + iter % 4; ++k)
        bytes[8 + rng() % (bytes.size() - 8)] = static_cast<char>(rng() % 256);
    } else if (kind == 1) {  // truncate
      bytes.resize(rng() % bytes.size());
    } else {  // rewrite one byte of the length field, or a digit in the header
      if (rng() % 2) {
        bytes[rng() % 8] = static_cast<char>(rng() % 256);
      } else {
        size_t pos = bytes.find_first_of("0123456789", 8 + rng() % (bytes.size() - 8));
        if (pos != std::string::npos) bytes[pos] = static_cast<char>('0' + rng() % 10);
      }
    }
    write_file(dir.file("fuzz.safetensors"), bytes);
    try {
      auto f = SafetensorsFile::open(dir.file("fuzz.safetensors"));
      for (const auto& name : f->names()) {
        try {
          Tensor t = f->get(name);
          const auto* p = static_cast<const unsigned char*>(t.raw());
          unsigned sum = 0;
          for (size_t i = 0; i < t.nbytes(); ++i) sum += p[i];
          (void)sum;
        } catch (const Unsupported&) {
        }
      }
      ++opened;
    } catch (const InvalidInput& e) {
      EXPECT_THAT(e.what(), HasSubstr("fuzz.safetensors"));
      ++rejected;
    } catch (const Unsupported&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 500);  // the mutations do reach the validators
  EXPECT_GT(opened, 0);
}

TEST(Safetensors, HostileNamesAreEscapedAndCappedInMessages) {
  TempDir dir;
  const std::string name = "evil\nname" + std::string(10000, 'x');
  nlohmann::json header = {{name, {{"dtype", "F17"}, {"shape", {1}}, {"data_offsets", {0, 4}}}}};
  std::string msg = open_error(dir, st_raw(header.dump(), std::string(4, '\0')));
  EXPECT_THAT(msg, HasSubstr("tensor 'evil\\x0aname"));
  EXPECT_EQ(msg.find('\n'), std::string::npos);
  EXPECT_LT(msg.size(), 600u);
}

// Read into memory (the pipeline's default), a file holds the same tensors as mapped, in storage
// that starts on a 2 MiB boundary (so huge pages can back it), its data section on a cache line,
// and is read-only like a mapping.
TEST(Safetensors, MemoryResidencyReadsTheSameBytes) {
  TempDir dir;
  std::vector<float> big(3 << 18);  // 3 MiB: spans more than one huge page
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 1000) - 500.0f;
  const std::vector<float> small{1, 2, 3};
  write_file(dir.file("m.safetensors"),
             st_build({{"big", "F32", {static_cast<int64_t>(big.size())}, as_bytes(big)},
                       {"small", "F32", {3}, as_bytes(small)}}));
  auto mapped = SafetensorsFile::open(dir.file("m.safetensors"), FileResidency::mapped);
  auto read = SafetensorsFile::open(dir.file("m.safetensors"), FileResidency::memory);
  ASSERT_EQ(read->names(), mapped->names());
  const std::byte* base = read->get("big").storage()->data();
  EXPECT_LT(reinterpret_cast<uintptr_t>(base) % (2u << 20), 64u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(base + read->data_offset()) % 64, 0u);
  for (const std::string name : {"big", "small"}) {
    Tensor a = mapped->get(name), b = read->get(name);
    ASSERT_EQ(a.nbytes(), b.nbytes());
    EXPECT_NE(a.raw(), b.raw());
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0) << name;
    EXPECT_FALSE(b.writable());
  }
  // Defects are found the same way in either residency.
  write_file(dir.file("cut.safetensors"), std::string("\x10\0\0\0\0\0\0\0{}", 10));
  EXPECT_THROW(SafetensorsFile::open(dir.file("cut.safetensors"), FileResidency::memory),
               InvalidInput);
  EXPECT_THROW(SafetensorsFile::open(dir.file("none.safetensors"), FileResidency::memory),
               InvalidInput);
}

// Headers of any length: read into memory, every tensor whose offset in the data section is a
// multiple of 64 starts on a cache line, so the kernels' 64-byte loads of its rows stay whole.
TEST(Safetensors, MemoryResidencyPutsTheDataSectionOnACacheLine) {
  TempDir dir;
  std::vector<float> a(48), b(16);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i);
  for (size_t i = 0; i < b.size(); ++i) b[i] = -static_cast<float>(i);
  for (size_t pad = 0; pad < 64; pad += 7) {
    write_file(dir.file("m.safetensors"),
               st_build({{"a", "F32", {48}, as_bytes(a)}, {"b", "F32", {16}, as_bytes(b)}}, nullptr,
                        1, pad));
    auto f = SafetensorsFile::open(dir.file("m.safetensors"), FileResidency::memory);
    const Tensor ta = f->get("a"), tb = f->get("b");
    EXPECT_EQ(reinterpret_cast<uintptr_t>(ta.raw()) % 64, 0u) << "pad " << pad;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(tb.raw()) % 64, 0u) << "pad " << pad;
    EXPECT_EQ(std::memcmp(ta.raw(), a.data(), 48 * sizeof(float)), 0) << "pad " << pad;
    EXPECT_EQ(std::memcmp(tb.raw(), b.data(), 16 * sizeof(float)), 0) << "pad " << pad;
  }
}

TEST(Safetensors, MissingFileNamesThePath) {
  try {
    SafetensorsFile::open("/nonexistent/dir/model.safetensors");
    FAIL() << "no exception";
  } catch (const InvalidInput& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/dir/model.safetensors"));
  }
}

}  // namespace
}  // namespace mofa::io
