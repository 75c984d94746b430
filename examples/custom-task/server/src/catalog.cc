#include "catalog.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <unordered_map>

namespace catalog {
namespace {

using heavylift::Error;
using heavylift::Status;

// The word lists and categories; catalog.mjs holds the same lists in the
// same order.
constexpr std::array<std::string_view, 24> kAdjectives = {
    "classic", "compact", "rustic", "modern", "vintage", "sturdy", "elegant", "portable",
    "deluxe", "simple", "bright", "quiet", "heavy", "light", "smart", "sleek",
    "cozy", "bold", "slim", "grand", "mini", "royal", "urban", "tidy"};
constexpr std::array<std::string_view, 16> kMaterials = {
    "wooden", "steel", "cotton", "leather", "glass", "bamboo", "ceramic", "copper",
    "wool", "linen", "marble", "plastic", "silver", "oak", "walnut", "canvas"};
constexpr std::array<std::string_view, 32> kNouns = {
    "chair", "table", "lamp", "desk", "sofa", "shelf", "mirror", "clock",
    "kettle", "bowl", "plate", "mug", "vase", "rug", "pillow", "blanket",
    "bench", "stool", "cabinet", "drawer", "basket", "bottle", "jar", "pan",
    "knife", "spoon", "towel", "curtain", "frame", "candle", "speaker", "backpack"};
constexpr std::array<std::string_view, 8> kCategories = {
    "furniture", "kitchen", "decor", "lighting", "textiles", "outdoor", "office", "bath"};

constexpr size_t kMaxQueryChars = 200;
constexpr size_t kMaxQueryWords = 8;
constexpr uint32_t kMaxLimit = 100;
constexpr uint32_t kDefaultLimit = 10;
constexpr uint32_t kMaxRating = 50;
// Products between two checks of the deadline.
constexpr size_t kCheckEvery = 1 << 16;

class Mulberry32 {
 public:
  explicit Mulberry32(uint32_t seed) : state_(seed) {}
  uint32_t next() {
    state_ += 0x6D2B79F5u;
    uint32_t t = state_;
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    return t ^ (t >> 14);
  }

 private:
  uint32_t state_;
};

// True when `a` becomes `b` by one insertion, deletion or substitution.
bool one_edit_apart(std::string_view a, std::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  if (b.size() - a.size() > 1) return false;
  size_t i = 0;
  while (i < a.size() && a[i] == b[i]) ++i;
  if (a.size() == b.size()) return i < a.size() && a.substr(i + 1) == b.substr(i + 1);
  return a.substr(i) == b.substr(i + 1);
}

uint32_t word_score(std::string_view query_word, std::string_view word) {
  if (word == query_word) return 3;
  if (query_word.size() >= 2 && word.starts_with(query_word)) return 2;
  if (query_word.size() >= 4 && one_edit_apart(query_word, word)) return 1;
  return 0;
}

std::vector<std::string> split_query(std::string_view query) {
  std::vector<std::string> words;
  std::string current;
  for (char c : query) {
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if ((lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9')) {
      current.push_back(lower);
    } else if (!current.empty()) {
      words.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) words.push_back(std::move(current));
  return words;
}

// A product that matched, before it becomes a v1::Product in the response.
struct Match {
  uint32_t id;
  uint32_t score;
  uint32_t rating;
};

// Orders results best first.
bool better(const Match& a, const Match& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.rating != b.rating) return a.rating > b.rating;
  return a.id < b.id;
}

uint32_t env_or(const char* name, uint32_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? static_cast<uint32_t>(std::strtoul(text, nullptr, 10)) : fallback;
}

}  // namespace

Catalog generate_catalog(uint32_t count, uint32_t seed) {
  Mulberry32 random(seed);
  Catalog catalog;
  catalog.words.reserve(count);
  catalog.category.reserve(count);
  catalog.price_cents.reserve(count);
  catalog.rating.reserve(count);
  catalog.in_stock.reserve(count);
  catalog.names.reserve(count);
  std::unordered_map<std::string, uint16_t> word_ids;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string_view adjective = kAdjectives[random.next() % kAdjectives.size()];
    const std::string_view material = kMaterials[random.next() % kMaterials.size()];
    const std::string_view noun = kNouns[random.next() % kNouns.size()];
    catalog.category.push_back(static_cast<uint8_t>(random.next() % kCategories.size()));
    catalog.price_cents.push_back(100 + random.next() % 99900);
    catalog.rating.push_back(static_cast<uint8_t>(random.next() % (kMaxRating + 1)));
    catalog.in_stock.push_back(random.next() % 4 != 0 ? 1 : 0);
    std::string name = std::string(adjective) + " " + std::string(material) + " " + std::string(noun);
    // The name's words, lower-cased as the query is, each stored once.
    std::array<uint16_t, kNameWords> ids{};
    const std::vector<std::string> name_words = split_query(name);
    for (size_t w = 0; w < kNameWords; ++w) {
      auto [it, inserted] = word_ids.try_emplace(name_words[w], static_cast<uint16_t>(catalog.vocabulary.size()));
      if (inserted) catalog.vocabulary.push_back(name_words[w]);
      ids[w] = it->second;
    }
    catalog.words.push_back(ids);
    catalog.names.push_back(std::move(name));
  }
  return catalog;
}

Status search(const Catalog& catalog, const v1::SearchRequest& request, v1::SearchResponse* response,
              heavylift::TaskContext& context) {
  if (request.query().size() > kMaxQueryChars) {
    return Error::out_of_range("query", "at most 200 characters", std::to_string(request.query().size()) + " characters");
  }
  std::vector<std::string> words = split_query(request.query());
  if (words.empty()) {
    return Error::invalid("query", "EMPTY", "query must contain a letter or digit", "at least one word",
                          heavylift::quote_value(request.query()));
  }
  if (words.size() > kMaxQueryWords) {
    return Error::out_of_range("query", "at most 8 words", std::to_string(words.size()) + " words");
  }
  if (request.limit() > kMaxLimit) {
    return Error::out_of_range("limit", "in 1..100", std::to_string(request.limit()));
  }
  if (request.min_rating() > kMaxRating) {
    return Error::out_of_range("min_rating", "in 0..50", std::to_string(request.min_rating()));
  }
  int category = -1;
  if (!request.category().empty()) {
    const auto it = std::find(kCategories.begin(), kCategories.end(), request.category());
    if (it == kCategories.end()) {
      return Error::invalid("category", "UNKNOWN_CATEGORY", "category must name a catalog category",
                            "one of furniture, kitchen, decor, lighting, textiles, outdoor, office, bath",
                            heavylift::quote_value(request.category()));
    }
    category = static_cast<int>(it - kCategories.begin());
  }
  const uint32_t limit = request.limit() == 0 ? kDefaultLimit : request.limit();
  const uint32_t min_price = request.min_price_cents();
  const uint32_t max_price = request.max_price_cents() == 0 ? UINT32_MAX : request.max_price_cents();
  const uint32_t min_rating = request.min_rating();
  const bool in_stock_only = request.in_stock_only();

  // The score of every vocabulary word against each query word, computed
  // once per search: the scan then only adds table entries. The buffers are
  // kept per executor thread, so a search allocates nothing in the scan.
  const size_t vocabulary = catalog.vocabulary.size();
  thread_local std::vector<uint8_t> table;
  table.assign(words.size() * vocabulary, 0);
  for (size_t q = 0; q < words.size(); ++q) {
    for (size_t v = 0; v < vocabulary; ++v) {
      table[q * vocabulary + v] = static_cast<uint8_t>(word_score(words[q], catalog.vocabulary[v]));
    }
  }

  // Best `limit` so far, kept as a heap whose top is the worst of them.
  thread_local std::vector<Match> best;
  best.clear();
  best.reserve(limit + 1);
  const auto worse_on_top = [](const Match& a, const Match& b) { return better(a, b); };
  uint32_t matched = 0;
  const size_t count = catalog.size();
  const uint8_t* categories = catalog.category.data();
  const uint32_t* prices = catalog.price_cents.data();
  const uint8_t* ratings = catalog.rating.data();
  const uint8_t* stock = catalog.in_stock.data();
  const auto* name_words = catalog.words.data();
  const uint8_t* scores = table.data();
  const size_t query_words = words.size();
  for (size_t start = 0; start < count; start += kCheckEvery) {
    if (Status s = context.check(); !s.ok()) return s;
    context.report_progress(static_cast<double>(start) / static_cast<double>(count));
    const size_t end = std::min(count, start + kCheckEvery);
    for (size_t i = start; i < end; ++i) {
      if (category >= 0 && categories[i] != category) continue;
      if (prices[i] < min_price || prices[i] > max_price) continue;
      if (ratings[i] < min_rating) continue;
      if (in_stock_only && stock[i] == 0) continue;
      const auto& ids = name_words[i];
      uint32_t score = 0;
      for (size_t q = 0; q < query_words; ++q) {
        const uint8_t* row = scores + q * vocabulary;
        score += std::max({row[ids[0]], row[ids[1]], row[ids[2]]});
      }
      if (score == 0) continue;
      ++matched;
      const Match candidate{static_cast<uint32_t>(i + 1), score, ratings[i]};
      if (best.size() == limit) {
        if (!better(candidate, best.front())) continue;
        std::pop_heap(best.begin(), best.end(), worse_on_top);
        best.pop_back();
      }
      best.push_back(candidate);
      std::push_heap(best.begin(), best.end(), worse_on_top);
    }
  }
  std::sort(best.begin(), best.end(), better);
  for (const Match& match : best) {
    const size_t i = match.id - 1;
    v1::Product* entry = response->add_products();
    entry->set_id(match.id);
    entry->set_name(catalog.names[i]);
    entry->set_category(std::string(kCategories[catalog.category[i]]));
    entry->set_price_cents(catalog.price_cents[i]);
    entry->set_rating(catalog.rating[i]);
    entry->set_in_stock(catalog.in_stock[i] != 0);
    entry->set_score(match.score);
  }
  response->set_matched(matched);
  return Status::Ok();
}

Status register_tasks(heavylift::TaskRegistry& registry, const heavylift::Config& /*config*/) {
  // Shared by every call; read-only once built.
  auto catalog = std::make_shared<const Catalog>(
      generate_catalog(env_or("CATALOG_SIZE", 1'000'000), env_or("CATALOG_SEED", 42)));
  return registry.add<v1::SearchRequest, v1::SearchResponse>(
      "catalog.search", [catalog](const v1::SearchRequest& request, v1::SearchResponse* response,
                                   heavylift::TaskContext& context) {
        return search(*catalog, request, response, context);
      });
}

}  // namespace catalog
