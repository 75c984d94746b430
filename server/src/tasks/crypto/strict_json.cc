#include "tasks/crypto/strict_json.h"

#include <set>
#include <vector>

#include "core/error.h"

namespace heavylift {
namespace {

struct Rejected {
  std::string problem;
};

}  // namespace

std::optional<nlohmann::json> parse_strict_json_object(std::string_view text, std::string* problem,
                                                       int max_depth) {
  using Json = nlohmann::json;
  std::vector<std::set<std::string>> open_objects;
  const Json::parser_callback_t check = [&](int depth, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        if (depth >= max_depth) throw Rejected{"nested deeper than " + std::to_string(max_depth) + " levels"};
        if (event == Json::parse_event_t::object_start) open_objects.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case Json::parse_event_t::key: {
        const auto& name = parsed.get_ref<const std::string&>();
        if (!open_objects.empty() && !open_objects.back().insert(name).second) {
          throw Rejected{"duplicate member " + quote_value(name)};
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    Json value = Json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/true, /*ignore_comments=*/false);
    if (!value.is_object()) {
      *problem = "not a JSON object";
      return std::nullopt;
    }
    return value;
  } catch (const Rejected& rejected) {
    *problem = rejected.problem;
  } catch (const Json::exception&) {
    *problem = "not valid JSON";
  }
  return std::nullopt;
}

}  // namespace heavylift
