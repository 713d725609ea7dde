// lil/kv/factory.hpp - "policy X with budget B" for every layer of a model.
//
// A policy_spec names one policy and its options (each options struct carries
// its paper's defaults) plus skip_first_layers, the layers that stay dense;
// make_policy() builds the state of one layer from it. Converting from Quest's
// options sets skip_first_layers = 2, the paper's choice; every other policy
// starts at 0. parse() reads the short form used on command lines:
// "full", "sink:256", "h2o:64", "h2o:0.2" (a ratio of max_context), "quest:1024",
// "snapkv:128", "tova:64", with options after commas: "snapkv:32,window=8",
// "quest:256,gqa=max,skip=0".
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "lil/kv/full.hpp"
#include "lil/kv/h2o.hpp"
#include "lil/kv/policy.hpp"
#include "lil/kv/quest.hpp"
#include "lil/kv/sink.hpp"
#include "lil/kv/snapkv.hpp"
#include "lil/kv/tova.hpp"

namespace lil::kv {

struct policy_spec {
  using options_type =
      std::variant<full_options, sink_options, h2o_options, quest_options, snapkv_options, tova_options>;
  options_type options;
  int skip_first_layers = 0;  // layers [0, skip_first_layers) run Full

  policy_spec() = default;
  policy_spec(full_options o) : options(o) {}              // NOLINT(google-explicit-constructor)
  policy_spec(sink_options o) : options(o) {}              // NOLINT(google-explicit-constructor)
  policy_spec(h2o_options o) : options(o) {}               // NOLINT(google-explicit-constructor)
  policy_spec(quest_options o) : options(o), skip_first_layers(2) {}  // NOLINT(google-explicit-constructor)
  policy_spec(snapkv_options o) : options(o) {}            // NOLINT(google-explicit-constructor)
  policy_spec(tova_options o) : options(o) {}              // NOLINT(google-explicit-constructor)

  static policy_spec full() { return full_options{}; }
  static policy_spec sink(token_budget b) { return with_budget<sink_options>(b); }
  static policy_spec h2o(token_budget b) { return with_budget<h2o_options>(b); }
  static policy_spec quest(token_budget b) { return with_budget<quest_options>(b); }
  static policy_spec snapkv(token_budget b) { return with_budget<snapkv_options>(b); }
  static policy_spec tova(token_budget b) { return with_budget<tova_options>(b); }

  const char* name() const noexcept {
    static constexpr const char* names[] = {"full", "sink", "h2o", "quest", "snapkv", "tova"};
    return names[options.index()];
  }

  // "name", "name:budget" or "name:budget,key=value,...". A budget with a '.'
  // is a ratio of max_context. Keys: gqa=sum|mean|max, skip=<layers> (any
  // policy); sinks=<n> (sink); recent=<n>, heavy_fraction=<x> (h2o);
  // page=<n>, bounds=fp32|bf16 (quest); window=<n>, kernel=<n>,
  // pool=avg|max, evict_generated=0|1 (snapkv); per_kv_head=0|1 (tova).
  static policy_spec parse(std::string_view text) {
    auto fail = [&](const std::string& why) {
      lil::detail::throw_error("kv policy \"" + std::string(text) + "\": " + why);
    };
    const std::size_t colon = text.find(':');
    const std::string_view name = text.substr(0, colon);
    std::string_view rest = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
    const std::string_view budget_text = rest.substr(0, rest.find(','));
    rest = budget_text.size() < rest.size() ? rest.substr(budget_text.size() + 1) : std::string_view{};

    policy_spec spec;
    if (name == "full") {
      if (colon != std::string_view::npos) fail("full takes no budget");
      return full();
    }
    if (colon == std::string_view::npos || budget_text.empty())
      fail("missing budget (write " + std::string(name) + ":<tokens>)");
    const token_budget b = budget_text.find('.') != std::string_view::npos
                               ? token_budget::ratio_of_context(parse_number<double>(budget_text, "budget", fail))
                               : token_budget(parse_number<int>(budget_text, "budget", fail));
    if (name == "sink" || name == "streamingllm") {
      spec = sink(b);
    } else if (name == "h2o") {
      spec = h2o(b);
    } else if (name == "quest") {
      spec = quest(b);
    } else if (name == "snapkv") {
      spec = snapkv(b);
    } else if (name == "tova") {
      spec = tova(b);
    } else {
      fail("unknown policy \"" + std::string(name) + "\" (full, sink, h2o, quest, snapkv, tova)");
    }
    while (!rest.empty()) {
      const std::string_view item = rest.substr(0, rest.find(','));
      rest = item.size() < rest.size() ? rest.substr(item.size() + 1) : std::string_view{};
      const std::size_t eq = item.find('=');
      if (eq == std::string_view::npos) fail("option \"" + std::string(item) + "\" is not key=value");
      if (!spec.set_option(item.substr(0, eq), item.substr(eq + 1), fail))
        fail("option \"" + std::string(item.substr(0, eq)) + "\" does not apply to " + spec.name());
    }
    return spec;
  }

 private:
  template <class T, class Fail>
  static T parse_number(std::string_view text, const char* what, Fail& fail) {
    const std::string str(text);
    std::size_t used = 0;
    T value{};
    try {
      if constexpr (std::is_same_v<T, double>) {
        value = std::stod(str, &used);
      } else {
        value = std::stoi(str, &used);
      }
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != str.size()) fail(std::string(what) + " \"" + str + "\" is not a number");
    return value;
  }

  template <class Fail>
  static reduction parse_reduction(std::string_view v, Fail& fail) {
    if (v == "sum") return reduction::sum;
    if (v == "mean") return reduction::mean;
    if (v == "max") return reduction::max;
    fail("gqa \"" + std::string(v) + "\" is not sum, mean or max");
    return reduction::mean;
  }

  template <class Fail>
  static bool parse_flag(std::string_view key, std::string_view v, Fail& fail) {
    if (v == "1" || v == "true") return true;
    if (v == "0" || v == "false") return false;
    fail(std::string(key) + " \"" + std::string(v) + "\" is not 0 or 1");
    return false;
  }

  template <class T, class V>
  static bool assign(T& field, V value) {
    field = static_cast<T>(value);
    return true;
  }

  // Applies one key=value; false if the key does not belong to this policy.
  template <class Fail>
  bool set_option(std::string_view key, std::string_view v, Fail& fail) {
    if (key == "skip") {
      skip_first_layers = parse_number<int>(v, "skip", fail);
      return true;
    }
    if (auto* o = std::get_if<sink_options>(&options)) {
      if (key == "sinks") return assign(o->sinks, parse_number<int>(v, "sinks", fail));
    } else if (auto* o = std::get_if<h2o_options>(&options)) {
      if (key == "recent") return assign(o->recent, parse_number<int>(v, "recent", fail));
      if (key == "heavy_fraction") return assign(o->heavy_fraction, parse_number<double>(v, "heavy_fraction", fail));
      if (key == "gqa") return assign(o->gqa, parse_reduction(v, fail));
    } else if (auto* o = std::get_if<quest_options>(&options)) {
      if (key == "page") return assign(o->page_size, parse_number<int>(v, "page", fail));
      if (key == "gqa") return assign(o->gqa, parse_reduction(v, fail));
      if (key == "bounds") {
        if (v != "fp32" && v != "bf16") fail("bounds \"" + std::string(v) + "\" is not fp32 or bf16");
        o->bounds = v == "bf16" ? bound_format::bf16 : bound_format::fp32;
        return true;
      }
    } else if (auto* o = std::get_if<snapkv_options>(&options)) {
      if (key == "window") return assign(o->window, parse_number<int>(v, "window", fail));
      if (key == "kernel") return assign(o->kernel, parse_number<int>(v, "kernel", fail));
      if (key == "gqa") return assign(o->gqa, parse_reduction(v, fail));
      if (key == "evict_generated") return assign(o->evict_generated, parse_flag(key, v, fail));
      if (key == "pool") {
        if (v != "avg" && v != "max") fail("pool \"" + std::string(v) + "\" is not avg or max");
        o->pool = v == "max" ? kv::pooling::max : kv::pooling::avg;
        return true;
      }
    } else if (auto* o = std::get_if<tova_options>(&options)) {
      if (key == "gqa") return assign(o->gqa, parse_reduction(v, fail));
      if (key == "per_kv_head") return assign(o->per_kv_head, parse_flag(key, v, fail));
    }
    return false;
  }

  template <class Options>
  static policy_spec with_budget(token_budget b) {
    Options o;
    o.budget = b;
    return o;
  }
};

namespace detail {
// The state of layer `layer` of the sequence `bind` names (a fresh pool of
// one sequence when bind.pool is null).
inline std::unique_ptr<policy> make_policy_in(const policy_spec& spec, const model_shape& shape, int layer,
                                              state_binding bind) {
  if (spec.skip_first_layers < 0)
    lil::detail::throw_error("kv policy_spec: skip_first_layers " + detail::number(spec.skip_first_layers) +
                             " must not be negative");
  if (layer < spec.skip_first_layers) return std::make_unique<full_policy>(shape, layer, full_options{}, bind);
  struct builder {
    const model_shape& shape;
    int layer;
    state_binding bind;
    std::unique_ptr<policy> operator()(const full_options& o) const {
      return std::make_unique<full_policy>(shape, layer, o, bind);
    }
    std::unique_ptr<policy> operator()(const sink_options& o) const {
      return std::make_unique<sink_policy>(shape, layer, o, bind);
    }
    std::unique_ptr<policy> operator()(const h2o_options& o) const {
      return std::make_unique<h2o_policy>(shape, layer, o, bind);
    }
    std::unique_ptr<policy> operator()(const quest_options& o) const {
      return std::make_unique<quest_policy>(shape, layer, o, bind);
    }
    std::unique_ptr<policy> operator()(const snapkv_options& o) const {
      return std::make_unique<snapkv_policy>(shape, layer, o, bind);
    }
    std::unique_ptr<policy> operator()(const tova_options& o) const {
      return std::make_unique<tova_policy>(shape, layer, o, bind);
    }
  };
  return std::visit(builder{shape, layer, bind}, spec.options);
}
}  // namespace detail

// The state of layer `layer` of one sequence.
inline std::unique_ptr<policy> make_policy(const policy_spec& spec, const model_shape& shape, int layer) {
  return detail::make_policy_in(spec, shape, layer, {});
}

}  // namespace lil::kv
