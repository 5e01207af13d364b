#include "text/sentencepiece_model.h"

#include <sentencepiece_processor.h>

#include "core/error.h"

namespace mofa::text {

namespace {

class SentencePieceDecoder : public Decoder {
 public:
  explicit SentencePieceDecoder(const sentencepiece::SentencePieceProcessor& sp) : sp_(sp) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out, run;
    auto flush = [&] {
      if (run.empty()) return;
      std::string text;
      if (!sp_.Decode(run, &text).ok()) text.clear();
      out.push_back(std::move(text));
      run.clear();
    };
    for (auto& t : tokens) {
      const int id = sp_.PieceToId(t);
      if (sp_.IsControl(id) || (sp_.IsUnknown(id) && t == sp_.IdToPiece(id))) {
        flush();
        out.push_back(std::move(t));
      } else {
        run.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }

 private:
  const sentencepiece::SentencePieceProcessor& sp_;
};

}  // namespace

SentencePieceModel::SentencePieceModel()
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
SentencePieceModel::~SentencePieceModel() = default;

std::unique_ptr<SentencePieceModel> SentencePieceModel::load(const std::string& path) {
  auto m = std::unique_ptr<SentencePieceModel>(new SentencePieceModel());
  auto status = m->sp_->Load(path);
  if (!status.ok()) {
    throw InvalidInput("tokenizer.model: cannot be loaded by SentencePiece: " + status.ToString());
  }
  const int n = m->sp_->GetPieceSize();
  m->pieces_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) m->pieces_.push_back(m->sp_->IdToPiece(i));
  return m;
}

void SentencePieceModel::encode(std::string_view word, std::vector<int32_t>& out) const {
  std::vector<int> ids;
  auto status = sp_->Encode(word, &ids);
  if (!status.ok()) throw InternalError("[sentencepiece] encode failed: " + status.ToString());
  out.insert(out.end(), ids.begin(), ids.end());
}

std::optional<int32_t> SentencePieceModel::token_to_id(std::string_view token) const {
  const int id = sp_->PieceToId(token);
  if (id < 0 || id >= static_cast<int>(pieces_.size()) ||
      pieces_[static_cast<size_t>(id)] != token) {
    return std::nullopt;
  }
  return id;
}

const std::string* SentencePieceModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) return nullptr;
  return &pieces_[static_cast<size_t>(id)];
}

std::vector<AddedToken> SentencePieceModel::control_tokens() const {
  std::vector<AddedToken> out;
  for (int i = 0; i < static_cast<int>(pieces_.size()); ++i) {
    if (!sp_->IsControl(i) && !sp_->IsUnknown(i)) continue;
    AddedToken t;
    t.id = i;
    t.content = pieces_[static_cast<size_t>(i)];
    t.special = true;
    t.normalized = false;
    out.push_back(std::move(t));
  }
  return out;
}

std::unique_ptr<Decoder> SentencePieceModel::make_decoder() const {
  return std::make_unique<SentencePieceDecoder>(*sp_);
}

std::string SentencePieceModel::bos_piece() const {
  const int id = sp_->bos_id();
  return id >= 0 && id < static_cast<int>(pieces_.size()) ? pieces_[static_cast<size_t>(id)] : "";
}

std::string SentencePieceModel::eos_piece() const {
  const int id = sp_->eos_id();
  return id >= 0 && id < static_cast<int>(pieces_.size()) ? pieces_[static_cast<size_t>(id)] : "";
}

}  // namespace mofa::text
