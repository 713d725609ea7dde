// lil.Vocabulary: the id -> bytes table a Guardian or GuardianBatch reads ids
// through (lil/guardian/vocabulary.hpp). Built once per model in Python,
// shared by every guardian that names it.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "lil/guardian/vocabulary.hpp"
#if defined(LIL_PYTHON_HAVE_SENTENCEPIECE)
#include "lil/guardian/sentencepiece.hpp"
#endif

namespace lil::python {

namespace {

unfinished_character unfinished_from(const std::string& name) {
  if (name == "per_byte") return unfinished_character::per_byte;
  if (name == "per_character") return unfinished_character::per_character;
  fail("Vocabulary: unfinished must be 'per_byte' or 'per_character', got '" + name + "'");
}

}  // namespace

void bind_vocabulary(py::module_& m) {
  py::class_<vocabulary, std::shared_ptr<vocabulary>>(m, "Vocabulary", R"doc(
The bytes each token id decodes to, built once per model and shared by every
Guardian / GuardianBatch given it (vocabulary=...). With it, ids price
exactly the text the tokenizer decodes them to.

    vocab = lil.Vocabulary([b"a", b" cat", ...])          # pieces as bytes (or str) by id
    vocab = lil.Vocabulary.from_tiktoken(open(f, "rb").read())
    vocab = lil.Vocabulary.from_byte_level_pieces(tokenizer.convert_ids_to_tokens(range(n)))
    vocab = lil.Vocabulary.from_sentencepiece("tokenizer.model")
    vocab = lil.vocabulary_from_hf(tokenizer)            # a Hugging Face tokenizer object
)doc")
      .def(py::init([](py::handle pieces, bool strips_leading_space, const std::string& unfinished) {
             vocabulary_options o;
             o.strips_leading_space = strips_leading_space;
             o.unfinished = unfinished_from(unfinished);
             const py::list items(py::reinterpret_borrow<py::iterable>(pieces));
             std::vector<std::string_view> views;
             views.reserve(items.size());
             for (py::handle item : items) views.push_back(token_bytes(item, "Vocabulary piece"));
             return std::make_shared<vocabulary>(views, o);
           }),
           py::arg("pieces"), py::arg("strips_leading_space") = false, py::arg("unfinished") = "per_byte",
           "Vocabulary(pieces, strips_leading_space=False, unfinished='per_byte'): id i spells pieces[i].")
      .def_static(
          "from_byte_level_pieces",
          [](const std::vector<std::string>& pieces, const std::vector<token_id>& no_bytes) {
            return std::make_shared<vocabulary>(vocabulary::from_byte_level_pieces(pieces, no_bytes));
          },
          py::arg("pieces"), py::arg("no_bytes") = std::vector<token_id>{},
          "Byte-level BPE pieces as tokenizer.json spells them ('Ġ' = space); no_bytes: ids with no text.")
      .def_static(
          "from_tiktoken",
          [](py::handle file, const std::vector<std::pair<std::string, token_id>>& specials) {
            return std::make_shared<vocabulary>(vocabulary::from_tiktoken(token_bytes(file, "tiktoken ranks"), specials));
          },
          py::arg("ranks"), py::arg("specials") = std::vector<std::pair<std::string, token_id>>{},
          "A tiktoken ranks file's contents ('<base64> <rank>' lines); specials: [(text, id)].")
#if defined(LIL_PYTHON_HAVE_SENTENCEPIECE)
      .def_static(
          "from_sentencepiece",
          [](const std::string& path) { return std::make_shared<vocabulary>(load_sentencepiece_vocabulary(path)); },
          py::arg("path"), "A sentencepiece .model file (Llama-2 style; see docs/guardian.md for the rules).")
#endif
      .def("__len__", &vocabulary::size)
      .def("__copy__", [](py::object self) { return self; })
      .def("__deepcopy__", [](py::object self, py::handle) { return self; }, py::arg("memo"),
           "The same object: a vocabulary never changes, so copies share it.")
      .def(
          "bytes",
          [](const vocabulary& v, long long id) {
            if (id < 0 || id >= static_cast<long long>(v.size()))
              throw py::index_error("Vocabulary.bytes: id " + std::to_string(id) + " is outside 0.." +
                                    std::to_string(v.size()));
            const auto b = v.bytes(static_cast<token_id>(id));
            return py::bytes(b.data(), b.size());
          },
          py::arg("id"), "The bytes id decodes to.")
      .def_property_readonly("strips_leading_space", &vocabulary::strips_leading_space)
      .def_property_readonly("unfinished",
                             [](const vocabulary& v) {
                               return v.unfinished() == unfinished_character::per_byte ? "per_byte" : "per_character";
                             })
      .def_property_readonly("max_bytes", &vocabulary::max_bytes)
      .def_property_readonly("state_bytes", &vocabulary::state_bytes)
      .def("__repr__", [](const vocabulary& v) {
        return "Vocabulary(size=" + std::to_string(v.size()) +
               ", strips_leading_space=" + (v.strips_leading_space() ? "True" : "False") + ")";
      });
}

}  // namespace lil::python
