// The KV-cache policies (lil::kv) as the submodule lil.kv: a model's shape, a
// policy spec ("h2o:64"), and one policy object per (sequence, layer) with its
// hooks. Python code that owns its K/V tensors can drive a policy directly:
// append() says where the new token goes (and what it evicts), select() which
// slots to read, observe() takes the softmax weights of that read. Planner is
// the batched form (planner.hpp): many sequences of one layer, numpy arrays in
// and out, the block tables and state arrays exactly as the header lays them.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "lil/kv/factory.hpp"
#include "lil/kv/planner.hpp"
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


template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// A copy of `n` rows of `cols` values as a 2-D array (or 3-D with `mid`).
template <class T>
py::array_t<T> rows_copy(const T* data, std::size_t n, std::size_t cols, std::size_t mid = 0) {
  std::vector<py::ssize_t> shape = {static_cast<py::ssize_t>(n)};
  if (mid > 0) shape.push_back(static_cast<py::ssize_t>(mid));
  shape.push_back(static_cast<py::ssize_t>(cols));
  py::array_t<T> out(shape);
  std::copy(data, data + n * cols * (mid > 0 ? mid : 1), out.mutable_data());
  return out;
}

template <class T>
const T* checked_array(const carray<T>& a, std::size_t want, const char* what) {
  if (static_cast<std::size_t>(a.size()) != want)
    fail(std::string("kv planner step: ") + what + " has " + std::to_string(a.size()) + " values, expected " +
         std::to_string(want));
  return a.data();
}

py::dict plan_dict(const kv::step_plan& p, int n_kv_heads) {
  const std::size_t h = static_cast<std::size_t>(n_kv_heads), n = static_cast<std::size_t>(p.n_rows),
                    g = static_cast<std::size_t>(p.n_groups);
  py::dict d;
  d["write_slot"] = rows_copy(p.write_slot, n, h);
  d["evicted_position"] = rows_copy(p.evicted_position, n, h);
  d["row_group"] = rows_copy(p.row_group, n, 1).attr("reshape")(p.n_rows);
  d["row_count"] = rows_copy(p.row_count, n, h);
  d["group_seq"] = rows_copy(p.group_seq, g, 1).attr("reshape")(p.n_groups);
  d["tables"] = rows_copy(p.tables, g, static_cast<std::size_t>(p.table_stride), static_cast<std::size_t>(p.table_heads));
  d["group_count"] = rows_copy(p.group_count, g, h);
  if (p.page_stride > 0) {
    d["page_tables"] = rows_copy(p.page_tables, g, static_cast<std::size_t>(p.page_stride), h);
    d["page_count"] = rows_copy(p.page_count, g, h);
  }
  return d;
}

py::array state_copy(const kv::state_array& a, int max_batch) {
  const std::vector<py::ssize_t> shape = {max_batch, static_cast<py::ssize_t>(a.elements)};
  const std::string dt = a.dtype;
  py::dtype dtype = dt == "int64"   ? py::dtype::of<std::int64_t>()
                    : dt == "int32" ? py::dtype::of<std::int32_t>()
                    : dt == "float32" ? py::dtype::of<float>()
                    : dt == "uint16"  ? py::dtype::of<std::uint16_t>()
                                      : py::dtype::of<std::uint8_t>();
  py::array out(dtype, shape);
  std::memcpy(out.mutable_data(), a.data, a.elements * a.element_size * static_cast<std::size_t>(max_batch));
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


  py::class_<kv::planner>(kv, "Planner", R"doc(
The KV state of up to max_batch sequences of one layer (planner.hpp). Per call:
    plan = pl.step(seq, position, keys, queries=None)  # rows; numpy arrays
    # write K/V of row r at plan['write_slot'][r]; row r reads, per KV head h,
    # the first plan['row_count'][r, h] entries of
    # plan['tables'][plan['row_group'][r], 0 if table_heads == 1 else h]
    pl.observe(weights)                                 # [rows, n_heads, stride]
and prefill_done(seq), fork(src, dst), release(seq). state(name) copies one state
array as [max_batch, elements] (names and layout in planner.hpp).
)doc")
      .def(py::init([](py::handle spec, const kv::model_shape& shape, int layer, int max_batch, int max_rows) {
             return std::make_unique<kv::planner>(spec_from(spec), shape, layer, max_batch, max_rows);
           }),
           py::arg("spec"), py::arg("shape"), py::arg("layer") = 0, py::arg("max_batch") = 1, py::arg("max_rows") = 0)
      .def_property_readonly("name", &kv::planner::name)
      .def_property_readonly("max_batch", &kv::planner::max_batch)
      .def_property_readonly("max_rows", &kv::planner::max_rows)
      .def_property_readonly("budget", &kv::planner::budget)
      .def_property_readonly("capacity", &kv::planner::capacity)
      .def_property_readonly("max_selected", &kv::planner::max_selected)
      .def_property_readonly("table_heads", &kv::planner::table_heads)
      .def_property_readonly("page_size", &kv::planner::page_size)
      .def_property_readonly("needs_query", &kv::planner::needs_query)
      .def(
          "needs_weights", [](const kv::planner& p, int seq) { return p.requirements(seq).weights; }, py::arg("seq"),
          "Whether observe() reads sequence seq's weights now.")
      .def(
          "step",
          [](kv::planner& p, const carray<std::int32_t>& seq, const carray<std::int64_t>& position,
             const carray<float>& keys, py::object queries) {
            const auto& s = p.shape();
            const std::size_t n = static_cast<std::size_t>(seq.size());
            kv::planner_rows rows;
            rows.seq = seq.data();
            rows.position = checked_array(position, n, "position");
            rows.n_rows = static_cast<std::int32_t>(n);
            rows.keys = checked_array(keys, n * static_cast<std::size_t>(s.n_kv_heads * s.head_dim), "keys");
            carray<float> q;
            if (!queries.is_none()) {
              q = queries.cast<carray<float>>();
              rows.queries = checked_array(q, n * static_cast<std::size_t>(s.n_heads * s.head_dim), "queries");
            }
            return plan_dict(p.step(rows), s.n_kv_heads);
          },
          py::arg("seq"), py::arg("position"), py::arg("keys"), py::arg("queries") = py::none(),
          "Rows: int32 seq [n], int64 position [n], float32 keys [n, n_kv_heads, head_dim], queries [n, n_heads, "
          "head_dim] (Quest). Returns the plan as numpy arrays.")
      .def(
          "observe",
          [](kv::planner& p, const carray<float>& weights) {
            if (weights.ndim() != 3 || weights.shape(1) != p.shape().n_heads)
              fail("kv planner observe: weights must be [rows, n_heads, stride]");
            if (weights.shape(0) != p.last_plan().n_rows)
              fail("kv planner observe: weights has " + std::to_string(weights.shape(0)) + " rows, the last step had " +
                   std::to_string(p.last_plan().n_rows));
            p.observe(weights.data(), static_cast<std::size_t>(weights.shape(2)));
          },
          py::arg("weights"), "float32 [rows, n_heads, stride]: row r, head q over its table's first row_count entries.")
      .def(
          "prefill_done",
          [](kv::planner& p, int seq) {
            const kv::prefill_result r = p.prefill_done(seq);
            const int heads = p.shape().n_kv_heads;
            py::dict out;
            out["freed"] = slot_lists_of(r.freed, heads);
            out["move_from"] = slot_lists_of(r.move_from, heads);
            out["move_to"] = slot_lists_of(r.move_to, heads);
            return out;
          },
          py::arg("seq"))
      .def("fork", &kv::planner::fork, py::arg("src"), py::arg("dst"), "dst becomes a copy of src.")
      .def("release", &kv::planner::release, py::arg("seq"))
      .def("room", &kv::planner::room, py::arg("seq"), "Tokens a prefill chunk of seq may hold now.")
      .def(
          "sequence", [](kv::planner& p, int seq) -> policy& { return p.sequence(seq); }, py::arg("seq"),
          py::return_value_policy::reference_internal, "The single-sequence view (a Policy) of sequence seq.")
      .def_property_readonly("state_names",
                             [](const kv::planner& p) {
                               py::list names;
                               for (const auto& a : p.states()) names.append(a.name);
                               return names;
                             })
      .def(
          "state",
          [](const kv::planner& p, const std::string& name) {
            const kv::state_array a = p.state(name);
            if (a.name == nullptr) fail("kv planner state: " + std::string(p.name()) + " has no array \"" + name + "\"");
            return state_copy(a, p.max_batch());
          },
          py::arg("name"), "A copy of the named state array, [max_batch, elements per sequence].");

  kv.def(
      "make_policy",
      [](py::handle spec, const kv::model_shape& shape, int layer) {
        return kv::make_policy(spec_from(spec), shape, layer);
      },
      py::arg("spec"), py::arg("shape"), py::arg("layer") = 0,
      "The policy of one layer of one sequence, from a PolicySpec or its text (\"h2o:64\").");
}

}  // namespace lil::python
