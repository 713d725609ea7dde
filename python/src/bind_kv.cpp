// The KV-cache policies (lil::kv) as the submodule lil.kv: a model's shape, a
// policy spec ("h2o:64"), and one policy object per (sequence, layer) with its
// hooks. Python code that owns its K/V tensors can drive a policy directly:
// append() says where the new token goes (and what it evicts), select() which
// slots to read, observe() takes the softmax weights of that read.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "lil/kv/factory.hpp"
#include "lil/kv/policy.hpp"

namespace lil::python {

namespace {

using kv::policy;

py::list slot_lists_of(const kv::slot_lists& s, int n_kv_heads) {
  py::list out;
  for (int h = 0; h < n_kv_heads; ++h) {
    py::list head;
    if (s.n_kv_heads() != 0)
      for (std::int32_t slot : s.head(h)) head.append(slot);
    out.append(head);
  }
  return out;
}

// The softmax weights of one step as rows of `stride` floats, one row per query
// head: a 2-D float buffer, a 1-D one with its stride, or a list of rows
// (shorter rows are padded with zeros; the policy reads only the selection).
std::vector<float> weight_rows(py::handle weights, int n_heads, std::size_t& stride) {
  if (PyObject_CheckBuffer(weights.ptr())) {
    const py::buffer_info info = py::reinterpret_borrow<py::buffer>(weights).request();
    if (info.ndim == 2) {
      if (info.shape[0] != n_heads)
        fail("kv observe: weights has " + std::to_string(info.shape[0]) + " rows, the model has " +
             std::to_string(n_heads) + " query heads");
      stride = static_cast<std::size_t>(info.shape[1]);
      const bool is_f32 = info.itemsize == 4 && (info.format == "f" || info.format == "<f" || info.format == "=f");
      const bool is_f64 = info.itemsize == 8 && (info.format == "d" || info.format == "<d" || info.format == "=d");
      if (!is_f32 && !is_f64) fail("kv observe: weights must be float32 or float64, got format '" + info.format + "'");
      if (info.strides[1] != info.itemsize || info.strides[0] != info.itemsize * info.shape[1])
        fail("kv observe: weights must be C-contiguous");
      std::vector<float> out(static_cast<std::size_t>(n_heads) * stride);
      for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = is_f32 ? static_cast<const float*>(info.ptr)[i] : static_cast<float>(static_cast<const double*>(info.ptr)[i]);
      return out;
    }
    if (stride == 0) fail("kv observe: a one-dimensional weights buffer needs its stride");
    return floats(weights, static_cast<std::size_t>(n_heads) * stride, "kv observe: weights");
  }
  const py::list rows(py::reinterpret_borrow<py::iterable>(weights));
  if (static_cast<int>(rows.size()) != n_heads)
    fail("kv observe: weights has " + std::to_string(rows.size()) + " rows, the model has " + std::to_string(n_heads) +
         " query heads");
  std::vector<std::vector<float>> parsed;
  std::size_t widest = 0;
  for (py::handle row : rows) {
    const py::list values(py::reinterpret_borrow<py::iterable>(row));
    parsed.push_back(floats(values, values.size(), "kv observe: weights row"));
    widest = std::max(widest, parsed.back().size());
  }
  stride = std::max(stride, widest);
  std::vector<float> out(static_cast<std::size_t>(n_heads) * stride, 0.0f);
  for (std::size_t q = 0; q < parsed.size(); ++q)
    std::copy(parsed[q].begin(), parsed[q].end(), out.begin() + static_cast<std::ptrdiff_t>(q * stride));
  return out;
}

kv::policy_spec spec_from(py::handle spec) {
  if (PyUnicode_Check(spec.ptr())) return kv::policy_spec::parse(std::string(py::str(spec)));
  return spec.cast<kv::policy_spec>();
}

}  // namespace

void bind_kv(py::module_& kv) {
  py::class_<kv::model_shape>(kv, "ModelShape", "The attention geometry of a model, shared by all its layers.")
      .def(py::init([](int n_layers, int n_heads, int n_kv_heads, int head_dim, int max_context,
                       int kv_bytes_per_element) {
             kv::model_shape s;
             s.n_layers = n_layers;
             s.n_heads = n_heads;
             s.n_kv_heads = n_kv_heads;
             s.head_dim = head_dim;
             s.max_context = max_context;
             s.kv_bytes_per_element = kv_bytes_per_element;
             s.validate();
             return s;
           }),
           py::kw_only(), py::arg("n_layers") = 1, py::arg("n_heads"), py::arg("n_kv_heads"), py::arg("head_dim"),
           py::arg("max_context"), py::arg("kv_bytes_per_element") = 4)
      .def_readwrite("n_layers", &kv::model_shape::n_layers)
      .def_readwrite("n_heads", &kv::model_shape::n_heads)
      .def_readwrite("n_kv_heads", &kv::model_shape::n_kv_heads)
      .def_readwrite("head_dim", &kv::model_shape::head_dim)
      .def_readwrite("max_context", &kv::model_shape::max_context)
      .def_readwrite("kv_bytes_per_element", &kv::model_shape::kv_bytes_per_element)
      .def_property_readonly("group_size", &kv::model_shape::group_size)
      .def("validate", &kv::model_shape::validate, "Raises lil.Error naming the first bad field.")
      .def("__repr__", [](const kv::model_shape& s) {
        return "ModelShape(n_layers=" + std::to_string(s.n_layers) + ", n_heads=" + std::to_string(s.n_heads) +
               ", n_kv_heads=" + std::to_string(s.n_kv_heads) + ", head_dim=" + std::to_string(s.head_dim) +
               ", max_context=" + std::to_string(s.max_context) + ")";
      });

  py::class_<kv::policy_spec>(kv, "PolicySpec", "A policy and its options, for every layer of a model.")
      .def(py::init([](const std::string& text) { return kv::policy_spec::parse(text); }), py::arg("text"),
           "PolicySpec(\"h2o:64\"): full, sink:B, h2o:B, quest:B, snapkv:B, tova:B (B with a '.' is a ratio).")
      .def_static("parse", &kv::policy_spec::parse, py::arg("text"))
      .def_property_readonly("name", &kv::policy_spec::name)
      .def_readwrite("skip_first_layers", &kv::policy_spec::skip_first_layers,
                     "Layers [0, n) that stay dense (Quest's default is 2).")
      .def("__repr__", [](const kv::policy_spec& s) {
        return std::string("PolicySpec(name='") + s.name() + "', skip_first_layers=" +
               std::to_string(s.skip_first_layers) + ")";
      });

  py::class_<policy, std::unique_ptr<policy>>(kv, "Policy", R"doc(
The KV state of one (sequence, layer). Per token:
    slots, evicted = p.append(position, keys)   # keys: n_kv_heads * head_dim floats
    selection = p.select(query)                 # per KV head, the slots to read
    p.observe(weights)                          # only if p.requirements["weights"]
and once after the prompt: p.prefill_done().
)doc")
      .def_property_readonly("name", &policy::name)
      .def_property_readonly("layer", &policy::layer)
      .def_property_readonly("budget", &policy::budget, "Tokens read per KV head at most, per step.")
      .def_property_readonly("capacity", &policy::capacity, "Slots per KV head the caller preallocates.")
      .def_property_readonly("max_selected", &policy::max_selected)
      .def_property_readonly("appended", &policy::appended, "Tokens appended so far.")
      .def_property_readonly("gqa", [](const policy& p) { return kv::to_string(p.gqa()); })
      .def_property_readonly(
          "requirements",
          [](const policy& p) {
            const kv::needs n = p.requirements();
            py::dict d;
            d["weights"] = n.weights;
            d["prefill_window"] = n.prefill_window;
            return d;
          },
          "{'weights': observe() is needed, 'prefill_window': prompt steps prefill_done() uses}")
      .def(
          "append",
          [](policy& p, long long position, py::handle keys) {
            const auto& s = p.shape();
            const std::vector<float> k = floats(
                keys, static_cast<std::size_t>(s.n_kv_heads) * static_cast<std::size_t>(s.head_dim),
                std::string("kv ") + p.name() + " append: keys");
            const kv::append_result& r = p.append(position, k.data());
            py::list slots, evicted;
            for (int h = 0; h < r.n_kv_heads; ++h) {
              slots.append(r.slot[h]);
              evicted.append(r.evicted_position[h]);
            }
            return py::make_tuple(slots, evicted);
          },
          py::arg("position"), py::arg("keys"),
          "Places the new token; returns (slot per KV head, evicted position per KV head or -1).")
      .def(
          "select",
          [](policy& p, py::handle query) {
            const auto& s = p.shape();
            const std::size_t n = static_cast<std::size_t>(s.n_heads) * static_cast<std::size_t>(s.head_dim);
            std::vector<float> q;
            if (query.is_none()) {
              if (std::string(p.name()) == "quest") fail("kv quest select: Quest needs the query");
              q.assign(n, 0.0f);
            } else {
              q = floats(query, n, std::string("kv ") + p.name() + " select: query");
            }
            return slot_lists_of(p.select(q.data()), s.n_kv_heads);
          },
          py::arg("query") = py::none(), "Per KV head, the list of slots to read (query: n_heads * head_dim floats).")
      .def(
          "observe",
          [](policy& p, py::handle weights, std::size_t stride) {
            std::vector<float> w = weight_rows(weights, p.shape().n_heads, stride);
            p.observe(kv::weights_view{w.data(), stride});
          },
          py::arg("weights"), py::arg("stride") = 0,
          "The softmax weights of the last selection: rows per query head (2-D array, list of rows, or 1-D with "
          "stride).")
      .def(
          "prefill_done",
          [](policy& p) {
            const kv::prefill_result r = p.prefill_done();
            const int heads = p.shape().n_kv_heads;
            py::dict out;
            out["freed"] = slot_lists_of(r.freed, heads);
            out["move_from"] = slot_lists_of(r.move_from, heads);
            out["move_to"] = slot_lists_of(r.move_to, heads);
            return out;
          },
          "End of the prompt (SnapKV compresses here). Returns {'freed', 'move_from', 'move_to'}: per KV head, "
          "first move K/V rows move_from[i] -> move_to[i] in order, then the freed slots hold nothing read again.")
      .def("reset", &policy::reset, "Forget the sequence; keeps every allocation.")
      .def("size", &policy::size, py::arg("kv_head"), "Tokens held by a KV head.")
      .def(
          "live_slots",
          [](const policy& p, int kv_head) {
            py::list out;
            for (std::int32_t s : p.live_slots(kv_head)) out.append(s);
            return out;
          },
          py::arg("kv_head"))
      .def("position", &policy::position, py::arg("kv_head"), py::arg("slot"),
           "Original position of the token in the slot, -1 if free.")
      .def(
          "memory",
          [](const policy& p) {
            const kv::memory_report m = p.memory();
            py::dict d;
            d["kv_bytes"] = m.kv_bytes;
            d["kv_reserved_bytes"] = m.kv_reserved_bytes;
            d["policy_bytes"] = m.policy_bytes;
            d["tokens_held"] = m.tokens_held;
            return d;
          },
          "Bytes of K/V held and reserved, the policy's own bytes, tokens held.")
      .def("__repr__", [](const policy& p) {
        return std::string("Policy(name='") + p.name() + "', layer=" + std::to_string(p.layer()) +
               ", budget=" + std::to_string(p.budget()) + ", appended=" + std::to_string(p.appended()) + ")";
      });

  kv.def(
      "make_policy",
      [](py::handle spec, const kv::model_shape& shape, int layer) {
        return kv::make_policy(spec_from(spec), shape, layer);
      },
      py::arg("spec"), py::arg("shape"), py::arg("layer") = 0,
      "The policy of one layer of one sequence, from a PolicySpec or its text (\"h2o:64\").");
}

}  // namespace lil::python
