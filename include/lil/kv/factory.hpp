// lil/kv/factory.hpp - "policy X with budget B" for every layer of a model.
//
// A policy_spec names one policy and its options (each options struct carries
// its paper's defaults) plus skip_first_layers, the layers that stay dense;
// make_policy() builds the state of one layer from it. Converting from Quest's
// options sets skip_first_layers = 2, the paper's choice; every other policy
// starts at 0. parse() reads the short form used on command lines:
// "full", "sink:256", "h2o:64", "h2o:0.2" (a ratio of max_context), "quest:1024",
// "snapkv:128", "tova:64".
#pragma once

#include <memory>
#include <string>
#include <string_view>
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

  // "name" or "name:budget"; a budget with a '.' is a ratio of max_context.
  static policy_spec parse(std::string_view text) {
    const std::size_t colon = text.find(':');
    const std::string_view name = text.substr(0, colon);
    const bool has_budget = colon != std::string_view::npos;
    const std::string budget_text(has_budget ? text.substr(colon + 1) : std::string_view{});
    auto fail = [&](const std::string& why) {
      lil::detail::throw_error("kv policy \"" + std::string(text) + "\": " + why);
    };
    token_budget b;
    if (has_budget) {
      std::size_t used = 0;
      try {
        if (budget_text.find('.') != std::string::npos) {
          b = token_budget::ratio_of_context(std::stod(budget_text, &used));
        } else {
          b = token_budget(std::stoi(budget_text, &used));
        }
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != budget_text.size()) fail("budget \"" + budget_text + "\" is not a number");
    }
    if (name == "full") {
      if (has_budget) fail("full takes no budget");
      return full();
    }
    if (!has_budget) fail("missing budget (write " + std::string(name) + ":<tokens>)");
    if (name == "sink" || name == "streamingllm") return sink(b);
    if (name == "h2o") return h2o(b);
    if (name == "quest") return quest(b);
    if (name == "snapkv") return snapkv(b);
    if (name == "tova") return tova(b);
    fail("unknown policy \"" + std::string(name) + "\" (full, sink, h2o, quest, snapkv, tova)");
    return {};
  }

 private:
  template <class Options>
  static policy_spec with_budget(token_budget b) {
    Options o;
    o.budget = b;
    return o;
  }
};

// The state of layer `layer` of one sequence.
inline std::unique_ptr<policy> make_policy(const policy_spec& spec, const model_shape& shape, int layer) {
  if (spec.skip_first_layers < 0)
    lil::detail::throw_error("kv policy_spec: skip_first_layers " + detail::number(spec.skip_first_layers) +
                             " must not be negative");
  if (layer < spec.skip_first_layers) return std::make_unique<full_policy>(shape, layer);
  struct builder {
    const model_shape& shape;
    int layer;
    std::unique_ptr<policy> operator()(const full_options& o) const {
      return std::make_unique<full_policy>(shape, layer, o);
    }
    std::unique_ptr<policy> operator()(const sink_options& o) const {
      return std::make_unique<sink_policy>(shape, layer, o);
    }
    std::unique_ptr<policy> operator()(const h2o_options& o) const {
      return std::make_unique<h2o_policy>(shape, layer, o);
    }
    std::unique_ptr<policy> operator()(const quest_options& o) const {
      return std::make_unique<quest_policy>(shape, layer, o);
    }
    std::unique_ptr<policy> operator()(const snapkv_options& o) const {
      return std::make_unique<snapkv_policy>(shape, layer, o);
    }
    std::unique_ptr<policy> operator()(const tova_options& o) const {
      return std::make_unique<tova_policy>(shape, layer, o);
    }
  };
  return std::visit(builder{shape, layer}, spec.options);
}

}  // namespace lil::kv
