// A vocabulary from a sentencepiece model: every id's bytes asked of
// sentencepiece's own decoder, once, at construction.
#include "lil/guardian/sentencepiece.hpp"

#include <sentencepiece_processor.h>

#include <vector>

namespace lil {

namespace {

// What decode writes for id when it follows `before` (a piece with no
// leading space, so that the dummy-prefix rule of the text's start is out of
// the way): the piece's surface in the middle of a text.
std::string surface_after(const sentencepiece::SentencePieceProcessor& sp, int before, int id) {
  const std::string alone = sp.DecodeIds({before});
  const std::string both = sp.DecodeIds({before, id});
  return both.substr(alone.size());
}

vocabulary build(const sentencepiece::SentencePieceProcessor& sp, const std::string& where) {
  const int n = sp.GetPieceSize();
  if (n <= 0) detail::throw_error(where + ": the sentencepiece model has no pieces");
  static const std::string space_mark = "\xE2\x96\x81";  // U+2581
  // A normal piece without the space mark to stand before the unknown piece.
  int plain = -1;
  for (int i = 0; i < n && plain < 0; ++i)
    if (!sp.IsControl(i) && !sp.IsUnknown(i) && !sp.IsByte(i) && !sp.IsUnused(i) &&
        sp.IdToPiece(i).rfind(space_mark, 0) != 0)
      plain = i;
  std::vector<std::string> pieces(static_cast<std::size_t>(n));
  vocabulary_options o;
  o.unfinished = unfinished_character::per_byte;
  for (int i = 0; i < n; ++i) {
    std::string& out = pieces[static_cast<std::size_t>(i)];
    if (sp.IsControl(i) || sp.IsUnused(i)) continue;
    const std::string piece = sp.IdToPiece(i);
    if (sp.IsByte(i)) {
      // "<0xNN>"
      out.push_back(static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
    } else if (sp.IsUnknown(i)) {
      out = plain >= 0 ? surface_after(sp, plain, i) : sp.DecodeIds({i});
      // Its surface is not spelled with the space mark: decode keeps its
      // space at the start of a text too.
      if (sp.DecodeIds({i}) == out) o.keeps_leading_space.push_back(i);
    } else {
      for (std::size_t at = 0; at < piece.size();) {
        if (piece.compare(at, space_mark.size(), space_mark) == 0) {
          out.push_back(' ');
          at += space_mark.size();
        } else {
          out.push_back(piece[at++]);
        }
      }
      // A piece that decodes to text starting with a space alone, while it
      // was spelled with the space mark, tells that decoding a text strips it.
      if (!o.strips_leading_space && out.size() > 1 && out[0] == ' ' && sp.DecodeIds({i}) == out.substr(1))
        o.strips_leading_space = true;
    }
  }
  return vocabulary(pieces, o);
}

}  // namespace

vocabulary load_sentencepiece_vocabulary(const std::string& model_path) {
  sentencepiece::SentencePieceProcessor sp;
  const auto status = sp.Load(model_path);
  if (!status.ok())
    detail::throw_error("sentencepiece model " + model_path + ": cannot be loaded: " + status.ToString());
  return build(sp, "sentencepiece model " + model_path);
}

vocabulary sentencepiece_vocabulary_from_proto(std::string_view serialized_model) {
  sentencepiece::SentencePieceProcessor sp;
  const auto status = sp.LoadFromSerializedProto(serialized_model);
  if (!status.ok()) detail::throw_error("sentencepiece model (in memory): cannot be loaded: " + status.ToString());
  return build(sp, "sentencepiece model (in memory)");
}

}  // namespace lil
