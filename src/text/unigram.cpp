#include "text/unigram.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/unicode.h"

namespace mofa::text {

using nlohmann::json;

namespace {

// Hugging Face (and SentencePiece) score an unknown character this far below the worst piece.
constexpr double kUnkPenalty = 10.0;

}  // namespace

std::unique_ptr<UnigramModel> UnigramModel::from_json(const json& model, const std::string& where) {
  auto m = std::make_unique<UnigramModel>();
  try {
    if (!model.contains("vocab") || !model["vocab"].is_array()) {
      throw InvalidInput(where + ".vocab must be an array of [piece, score]");
    }
    const auto& vocab = model["vocab"];
    m->pieces_.reserve(vocab.size());
    m->scores_.reserve(vocab.size());
    m->min_score_ = vocab.empty() ? 0.0 : 1e300;
    for (size_t i = 0; i < vocab.size(); ++i) {
      const auto& e = vocab[i];
      if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number()) {
        throw InvalidInput(where + ".vocab[" + std::to_string(i) + "] must be [piece, score]");
      }
      m->pieces_.push_back(e[0].get<std::string>());
      m->scores_.push_back(e[1].get<double>());
      m->min_score_ = std::min(m->min_score_, m->scores_.back());
      m->max_piece_bytes_ = std::max(m->max_piece_bytes_, m->pieces_.back().size());
    }
    m->index_.build(m->pieces_);
    if (model.contains("unk_id") && !model["unk_id"].is_null()) {
      auto unk = model["unk_id"].get<int64_t>();
      if (unk < 0 || unk >= static_cast<int64_t>(m->pieces_.size())) {
        throw InvalidInput(where + ".unk_id " + std::to_string(unk) + " is outside the vocab");
      }
      m->unk_id_ = static_cast<int32_t>(unk);
    }
    m->byte_fallback_ = model.value("byte_fallback", false);
  } catch (const json::exception& e) {
    throw InvalidInput(where + ": " + e.what());
  }
  return m;
}

std::optional<int32_t> UnigramModel::token_to_id(std::string_view token) const {
  return index_.find(token);
}

const std::string* UnigramModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) return nullptr;
  return &pieces_[static_cast<size_t>(id)];
}

void UnigramModel::encode(std::string_view s, std::vector<int32_t>& out) const {
  if (s.empty()) return;
  struct Node {
    double score = 0.0;
    int64_t start = -1;  // -1: unreached
    int32_t id = -1;
  };
  const size_t n = s.size();
  std::vector<Node> best(n + 1);
  best[0].start = 0;
  const double unk_score = min_score_ - kUnkPenalty;
  size_t pos = 0;
  while (pos < n) {
    const double here = best[pos].score;
    const size_t mblen = std::min(utf8_len(static_cast<unsigned char>(s[pos])), n - pos);
    bool has_single = false;
    // Candidate pieces are the char-aligned prefixes of s[pos..] found in the vocab.
    size_t len = 0;
    while (pos + len < n && len < max_piece_bytes_) {
      len += std::min(utf8_len(static_cast<unsigned char>(s[pos + len])), n - pos - len);
      if (len > max_piece_bytes_) break;
      auto id = index_.find(s.substr(pos, len));
      if (!id) continue;
      Node& target = best[pos + len];
      const double cand = here + scores_[static_cast<size_t>(*id)];
      if (target.start < 0 || cand > target.score)
        target = Node{cand, static_cast<int64_t>(pos), *id};
      if (len == mblen) has_single = true;
    }
    if (!has_single) {
      if (!unk_id_) {
        throw InvalidInput("[unigram] character at byte " + std::to_string(pos) +
                           " is not in the vocab and the model has no unk_id");
      }
      Node& target = best[pos + mblen];
      const double cand = here + unk_score;
      if (target.start < 0 || cand > target.score) {
        target = Node{cand, static_cast<int64_t>(pos), *unk_id_};
      }
    }
    pos += mblen;
  }
  // Walk back; consecutive unknowns fuse into one piece, as Hugging Face's Unigram does.
  std::vector<std::pair<size_t, size_t>> spans;
  size_t end = n;
  size_t unk_end = 0;
  bool in_unk = false;
  while (end > 0) {
    const Node& node = best[end];
    const auto start = static_cast<size_t>(node.start);
    const bool is_unk = unk_id_ && node.id == *unk_id_;
    if (is_unk) {
      if (!in_unk) unk_end = end;
      in_unk = true;
    } else {
      if (in_unk) spans.emplace_back(end, unk_end);
      in_unk = false;
      spans.emplace_back(start, end);
    }
    end = start;
  }
  if (in_unk) spans.emplace_back(0, unk_end);
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
    std::string_view piece = s.substr(it->first, it->second - it->first);
    if (auto id = index_.find(piece)) {
      out.push_back(*id);
      continue;
    }
    if (byte_fallback_) {
      std::vector<int32_t> bytes;
      for (unsigned char c : piece) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", c);
        auto id = index_.find(name);
        if (!id) break;
        bytes.push_back(*id);
      }
      if (bytes.size() == piece.size()) {
        out.insert(out.end(), bytes.begin(), bytes.end());
        continue;
      }
    }
    out.push_back(*unk_id_);
  }
}

}  // namespace mofa::text
