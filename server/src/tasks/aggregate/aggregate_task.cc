#include "tasks/aggregate/aggregate_task.h"

#include <bson/bson.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "core/logging.h"
#include "store/bson_columns.h"
#include "store/mongo_reader.h"
#include "store/postgres_reader.h"
#include "tasks/aggregate/moving_window.h"

namespace heavylift {
namespace {

// Rows buffered before they are handed to the aggregator.
constexpr size_t kBatchRows = 4096;
constexpr size_t kMaxQuantiles = 64;
constexpr size_t kMaxHistogramBounds = 4096;
constexpr uint32_t kMaxTopK = 10'000;

// One input column: the dotted path split into names, and its kind.
struct ColumnInput {
  std::string path;
  std::vector<std::string> parts;
  Column::Kind kind = Column::Kind::kNumber;
  FieldType type = FieldType::kDouble;
};

struct Plan {
  AggregationPlan aggregation;
  std::optional<MovingPlan> moving;
  std::vector<ColumnInput> columns;
  ModelSchema projected;
};

Result<size_t> add_column(Plan& plan, const ModelSchema& model, const std::string& path, const std::string& request_field) {
  for (size_t i = 0; i < plan.columns.size(); ++i) {
    if (plan.columns[i].path == path) return i;
  }
  const FieldSchema* field = model.find_path(path);
  if (path.empty() || field == nullptr) {
    return Error::invalid(request_field, "UNKNOWN_FIELD",
                          fmt::format("{}: model {} has no field {}", request_field, model.name, quote_value(path)),
                          "a field of model " + model.name, path);
  }
  ColumnInput input;
  input.path = path;
  input.type = field->type;
  switch (field->type) {
    case FieldType::kString:
    case FieldType::kObjectId: input.kind = Column::Kind::kText; break;
    case FieldType::kInt32:
    case FieldType::kBigInt:
    case FieldType::kDate:
    case FieldType::kBoolean: input.kind = Column::Kind::kInteger; break;
    case FieldType::kDouble:
    case FieldType::kNumber:
    case FieldType::kDecimal128: input.kind = Column::Kind::kNumber; break;
    default:
      return Error::invalid(request_field, "UNSUPPORTED_FIELD_TYPE",
                            fmt::format("{}: field {} is a {}; aggregate a scalar field inside it", request_field,
                                        path, field_type_name(field->type)),
                            "a scalar field", path);
  }
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    input.parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  plan.columns.push_back(std::move(input));
  return plan.columns.size() - 1;
}

Result<BucketUnit> bucket_unit(v1::TimeBucket::Unit unit, const std::string& field) {
  switch (unit) {
    case v1::TimeBucket::UNIT_MINUTE: return BucketUnit::kMinute;
    case v1::TimeBucket::UNIT_HOUR: return BucketUnit::kHour;
    case v1::TimeBucket::UNIT_DAY: return BucketUnit::kDay;
    case v1::TimeBucket::UNIT_WEEK: return BucketUnit::kWeek;
    case v1::TimeBucket::UNIT_MONTH: return BucketUnit::kMonth;
    default:
      return Error::invalid(field, "INVALID_UNIT", fmt::format("{} must be minute, hour, day, week or month", field),
                            "UNIT_MINUTE..UNIT_MONTH", std::to_string(unit));
  }
}

Status build_keys(const google::protobuf::RepeatedPtrField<v1::GroupKey>& group_by, const ModelSchema& model,
                  Plan& plan) {
  for (int i = 0; i < group_by.size(); ++i) {
    const v1::GroupKey& key = group_by[i];
    const std::string field = fmt::format("group_by[{}].field", i);
    auto column = add_column(plan, model, key.field(), field);
    if (!column.ok()) return column.error();
    const ColumnInput& input = plan.columns[column.value()];
    if (input.kind == Column::Kind::kNumber) {
      return Error::invalid(field, "UNSUPPORTED_FIELD_TYPE",
                            fmt::format("{}: cannot group by the {} field {}; group by a string, integer, bool, "
                                        "ObjectId or date, or use a histogram",
                                        field, field_type_name(input.type), key.field()),
                            "a string, integer, bool, ObjectId or date field", key.field());
    }
    KeySpec spec;
    spec.column = column.value();
    if (input.type == FieldType::kDate) spec.output = v1::KeyValue::kTimeMs;
    else if (input.type == FieldType::kBoolean) spec.output = v1::KeyValue::kBoolean;
    else if (input.kind == Column::Kind::kInteger) spec.output = v1::KeyValue::kInteger;
    if (key.has_bucket()) {
      if (input.type != FieldType::kDate) {
        return Error::invalid(fmt::format("group_by[{}].bucket", i), "UNSUPPORTED_FIELD_TYPE",
                              fmt::format("group_by[{}].bucket needs a Date field, {} is a {}", i, key.field(),
                                          field_type_name(input.type)),
                              "a Date field", key.field());
      }
      auto unit = bucket_unit(key.bucket().unit(), fmt::format("group_by[{}].bucket.unit", i));
      if (!unit.ok()) return unit.error();
      auto zone = TimeZone::parse(key.bucket().time_zone(), fmt::format("group_by[{}].bucket.time_zone", i));
      if (!zone.ok()) return zone.error();
      spec.bucketed = true;
      spec.unit = unit.value();
      spec.time_zone = zone.value();
    }
    plan.aggregation.keys.push_back(spec);
  }
  return Status::Ok();
}

Status build_aggregate(const v1::AggregateSpec& request, int index, const ModelSchema& model, Plan& plan) {
  const std::string prefix = fmt::format("aggregates[{}]", index);
  AggregateSpec spec;
  spec.kind = request.kind();
  std::string kind_name = v1::AggregateSpec::Kind_Name(request.kind());
  kind_name = kind_name.size() > 5 ? kind_name.substr(5) : kind_name;
  for (char& c : kind_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  spec.name = request.name().empty() ? fmt::format("{}({})", kind_name, request.field()) : request.name();

  if (request.kind() == v1::AggregateSpec::KIND_UNSPECIFIED || !v1::AggregateSpec::Kind_IsValid(request.kind())) {
    return Error::invalid(prefix + ".kind", "INVALID_KIND", fmt::format("{}.kind must be set", prefix), "KIND_COUNT..KIND_CORRELATION",
                          std::to_string(request.kind()));
  }
  if (request.kind() == v1::AggregateSpec::KIND_COUNT && request.field().empty()) {
    plan.aggregation.aggregates.push_back(std::move(spec));
    return Status::Ok();
  }
  auto column = add_column(plan, model, request.field(), prefix + ".field");
  if (!column.ok()) return column.error();
  spec.column = column.value();
  const bool any_field = request.kind() == v1::AggregateSpec::KIND_COUNT ||
                         request.kind() == v1::AggregateSpec::KIND_DISTINCT_COUNT ||
                         request.kind() == v1::AggregateSpec::KIND_TOP_K;
  const ColumnInput& input = plan.columns[spec.column];
  if (!any_field && input.kind == Column::Kind::kText) {
    return Error::invalid(prefix + ".field", "UNSUPPORTED_FIELD_TYPE",
                          fmt::format("{}: {} needs a numeric or date field, {} is a {}", prefix, kind_name,
                                      request.field(), field_type_name(input.type)),
                          "a numeric or date field", request.field());
  }
  switch (request.kind()) {
    case v1::AggregateSpec::KIND_QUANTILES:
      if (request.quantiles().empty() || static_cast<size_t>(request.quantiles().size()) > kMaxQuantiles) {
        return Error::out_of_range(prefix + ".quantiles", fmt::format("1..{} entries", kMaxQuantiles),
                                   fmt::format("{} entries", request.quantiles().size()));
      }
      for (const double q : request.quantiles()) {
        if (!(q >= 0 && q <= 1)) return Error::out_of_range(prefix + ".quantiles", "in [0, 1]", fmt::format("{}", q));
      }
      spec.quantiles.assign(request.quantiles().begin(), request.quantiles().end());
      break;
    case v1::AggregateSpec::KIND_HISTOGRAM:
      if (request.histogram_bounds().empty() || static_cast<size_t>(request.histogram_bounds().size()) > kMaxHistogramBounds) {
        return Error::out_of_range(prefix + ".histogram_bounds", fmt::format("1..{} bounds", kMaxHistogramBounds),
                                   fmt::format("{} bounds", request.histogram_bounds().size()));
      }
      for (int j = 0; j < request.histogram_bounds().size(); ++j) {
        const double bound = request.histogram_bounds(j);
        if (std::isnan(bound) || (j > 0 && !(bound > request.histogram_bounds(j - 1)))) {
          return Error::invalid(prefix + ".histogram_bounds", "NOT_ASCENDING",
                                fmt::format("{}.histogram_bounds must be strictly ascending numbers", prefix),
                                "strictly ascending", fmt::format("{} at index {}", bound, j));
        }
      }
      spec.histogram_bounds.assign(request.histogram_bounds().begin(), request.histogram_bounds().end());
      break;
    case v1::AggregateSpec::KIND_TOP_K:
      if (request.k() < 1 || request.k() > kMaxTopK) {
        return Error::out_of_range(prefix + ".k", fmt::format("in 1..{}", kMaxTopK), std::to_string(request.k()));
      }
      spec.k = request.k();
      break;
    case v1::AggregateSpec::KIND_CORRELATION: {
      auto second = add_column(plan, model, request.field2(), prefix + ".field2");
      if (!second.ok()) return second.error();
      if (plan.columns[second.value()].kind == Column::Kind::kText) {
        return Error::invalid(prefix + ".field2", "UNSUPPORTED_FIELD_TYPE",
                              fmt::format("{}.field2 must be numeric", prefix), "a numeric field", request.field2());
      }
      spec.column2 = second.value();
      break;
    }
    default:
      break;
  }
  plan.aggregation.aggregates.push_back(std::move(spec));
  return Status::Ok();
}

Result<const ModelSchema*> find_model(const Schema* schema, const v1::RecordSource& source) {
  if (schema == nullptr) {
    Error error;
    error.code = Code::kFailedPrecondition;
    error.reason = "NO_SCHEMA";
    error.message = "no record schema is loaded; start heavylift with --schema-file pointing at schema/gen/schema.json";
    return error;
  }
  const ModelSchema* model = schema->model(source.model());
  if (model == nullptr) {
    return Error::invalid("source.model", "UNKNOWN_MODEL",
                          fmt::format("source.model {} is not a model of the loaded schema", quote_value(source.model())),
                          "a model of the loaded schema", source.model());
  }
  return model;
}

Result<Plan> build_plan(const v1::AggregateRequest& request, const ModelSchema& model) {
  Plan plan;
  if (request.aggregates().empty()) {
    return Error::invalid("aggregates", "EMPTY", "aggregates must list at least one aggregate", "at least 1 entry", "0");
  }
  if (Status s = build_keys(request.group_by(), model, plan); !s.ok()) return s.error();
  for (int i = 0; i < request.aggregates().size(); ++i) {
    if (Status s = build_aggregate(request.aggregates(i), i, model, plan); !s.ok()) return s.error();
  }
  if (request.has_moving()) {
    auto moving = plan_moving_window(request, plan.aggregation);
    if (!moving.ok()) return moving.error();
    plan.moving = std::move(moving).value();
  }
  std::vector<std::string> paths;
  for (const ColumnInput& column : plan.columns) paths.push_back(column.path);
  auto projected = model.project(paths, "aggregates");
  if (!projected.ok()) return projected.error();
  plan.projected = std::move(projected).value();
  return plan;
}

const Value* find_parts(const Value& record, const std::vector<std::string>& parts) {
  const Value* current = &record;
  for (const std::string& part : parts) {
    current = current->get(part);
    if (current == nullptr) return nullptr;
  }
  return current;
}

// Counts violations, lists the first ones and applies the policy.
class ViolationLog {
 public:
  ViolationLog(v1::ViolationPolicy policy, uint32_t max_listed) : policy_(policy), max_listed_(max_listed) {}

  Status add(std::vector<Violation>& violations) {
    ++rejected_;
    for (Violation& violation : violations) {
      if (listed_.size() < max_listed_) listed_.push_back(violation);
    }
    if (policy_ != v1::VIOLATION_POLICY_STOP || violations.empty()) return Status::Ok();
    const Violation& first = violations.front();
    Error error;
    error.code = Code::kFailedPrecondition;
    error.reason = "SCHEMA_VIOLATION";
    error.field = first.field;
    error.bound = first.expected;
    error.value = first.found;
    error.message = fmt::format("record {} of {} breaks the schema at field {}: expected {}, found {}", first.id,
                                first.collection, first.field.empty() ? "(document)" : first.field, first.expected,
                                first.found);
    return error;
  }

  void merge(const ViolationLog& other) {
    rejected_ += other.rejected_;
    for (const Violation& violation : other.listed_) {
      if (listed_.size() < max_listed_) listed_.push_back(violation);
    }
  }

  void write(v1::ViolationReport* report) const {
    report->set_records_rejected(rejected_);
    for (const Violation& violation : listed_) {
      v1::Violation* out = report->add_violations();
      out->set_collection(violation.collection);
      out->set_id(violation.id);
      out->set_field(violation.field);
      out->set_expected(violation.expected);
      out->set_found(violation.found);
    }
  }

  uint64_t rejected() const { return rejected_; }

 private:
  v1::ViolationPolicy policy_;
  uint32_t max_listed_;
  uint64_t rejected_ = 0;
  std::vector<Violation> listed_;
};

// Turns records into column batches for one Aggregator.
class ColumnSink final : public RecordSink {
 public:
  ColumnSink(const Plan& plan, const AggregateLimits& limits, v1::ViolationPolicy policy)
      : plan_(plan), aggregator_(plan.aggregation, limits), log_(policy, limits.max_violations_reported) {
    batch_.columns.resize(plan.columns.size());
    for (size_t i = 0; i < plan.columns.size(); ++i) batch_.columns[i].kind = plan.columns[i].kind;
  }

  Status accept(Value& record) override {
    ++records_;
    for (size_t i = 0; i < plan_.columns.size(); ++i) append_value(find_parts(record, plan_.columns[i].parts), batch_.columns[i]);
    if (++batch_.rows == kBatchRows) return flush();
    return Status::Ok();
  }

  ColumnBatch* column_batch() override { return &batch_; }
  std::vector<std::string> column_paths() const override {
    std::vector<std::string> paths;
    for (const ColumnInput& column : plan_.columns) paths.push_back(column.path);
    return paths;
  }
  Status accept_row() override {
    ++records_;
    if (++batch_.rows == kBatchRows) return flush();
    return Status::Ok();
  }

  Status reject(std::vector<Violation>& violations) override {
    ++records_;
    return log_.add(violations);
  }

  Status flush() {
    if (batch_.rows == 0) return Status::Ok();
    Status status = aggregator_.add(batch_);
    batch_.rows = 0;
    for (Column& column : batch_.columns) column.clear();
    return status;
  }

  Aggregator& aggregator() { return aggregator_; }
  ViolationLog& log() { return log_; }
  uint64_t records() const { return records_; }

 private:
  const Plan& plan_;
  ColumnBatch batch_;
  Aggregator aggregator_;
  ViolationLog log_;
  uint64_t records_ = 0;
};

// Collects canonical Extended JSON of valid records up to a limit.
class JsonSink final : public RecordSink {
 public:
  JsonSink(v1::DecodeResponse* response, uint32_t limit, v1::ViolationPolicy policy, uint32_t max_listed)
      : response_(response), limit_(limit), log_(policy, max_listed) {}

  Status accept(Value& record) override {
    ++records_;
    if (static_cast<uint32_t>(response_->records_size()) < limit_) response_->add_records(to_canonical_json(record));
    return Status::Ok();
  }
  Status reject(std::vector<Violation>& violations) override {
    ++records_;
    return log_.add(violations);
  }

  ViolationLog& log() { return log_; }
  uint64_t records() const { return records_; }

 private:
  v1::DecodeResponse* response_;
  uint32_t limit_;
  ViolationLog log_;
  uint64_t records_ = 0;
};

Status read_inline(const v1::InlineDocuments& documents, const ModelSchema& model, RecordSink& sink,
                   const TaskContext& context) {
  auto reader = BsonRecordReader::create(model, sink);
  if (!reader.ok()) return reader.error();
  for (int i = 0; i < documents.documents_size(); ++i) {
    if (i % 1024 == 1023) {
      if (Status s = context.check(); !s.ok()) return s;
    }
    const std::string& bytes = documents.documents(i);
    Status status = reader.value().read(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                        [i](std::vector<Violation>& violations) {
                                          for (Violation& violation : violations) {
                                            if (violation.id.empty()) violation.id = fmt::format("inline document {}", i);
                                          }
                                        });
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

// Reads `source` into the sinks: one per MongoDB partition, else sinks[0].
Status read_source(const v1::RecordSource& source, const ModelSchema& model, const std::vector<RecordSink*>& sinks,
                   const TaskContext& context) {
  switch (source.source_case()) {
    case v1::RecordSource::kMongo: return read_mongo(source.mongo(), model, sinks, context);
    case v1::RecordSource::kPostgres: return read_postgres(source.postgres(), model, *sinks[0], context);
    case v1::RecordSource::kInline: return read_inline(source.inline_(), model, *sinks[0], context);
    default:
      return Error::invalid("source", "EMPTY", "source must set mongo, postgres or inline", "one of mongo, postgres, inline");
  }
}

Result<size_t> partition_count(const v1::RecordSource& source, const AggregateLimits& limits) {
  if (source.source_case() != v1::RecordSource::kMongo) return size_t{1};
  const uint32_t partitions = source.mongo().partitions();
  if (partitions > limits.max_partitions) {
    return Error::out_of_range("source.mongo.partitions", fmt::format("<= {} (aggregate.max_partitions)", limits.max_partitions),
                               std::to_string(partitions));
  }
  return size_t{partitions == 0 ? 1 : partitions};
}

void log_rejections(const std::string& request_id, const ModelSchema& model, const ViolationLog& log) {
  if (log.rejected() == 0) return;
  spdlog::warn("event=aggregate.records_rejected request_id={} model={} records_rejected={}", log_value(request_id),
               model.name, log.rejected());
}

}  // namespace

AggregateMetrics declare_aggregate_metrics(Metrics& metrics) {
  AggregateMetrics out;
  out.records_read = &metrics.counter("heavylift_aggregate_records_read_total",
                                      "Records read by aggregate tasks, valid or not.");
  out.records_rejected = &metrics.counter("heavylift_aggregate_records_rejected_total",
                                          "Records skipped or failed because they broke the schema.");
  out.limit_rejections = &metrics.counter("heavylift_aggregate_limit_rejections_total",
                                          "Aggregate calls failed by max_groups or the request memory bound.");
  return out;
}

Status run_aggregate(const v1::AggregateRequest& request, v1::AggregateResponse* response, TaskContext& context,
                     const Schema* schema, const AggregateLimits& limits, const AggregateMetrics& metrics) {
  auto model = find_model(schema, request.source());
  if (!model.ok()) return model.error();
  auto plan = build_plan(request, *model.value());
  if (!plan.ok()) return plan.error();
  auto partitions = partition_count(request.source(), limits);
  if (!partitions.ok()) return partitions.error();
  AggregateLimits request_limits = limits;
  if (request.max_groups() > limits.max_groups) {
    return Error::out_of_range("max_groups", fmt::format("<= {} (aggregate.max_groups)", limits.max_groups),
                               std::to_string(request.max_groups()));
  }
  if (request.max_groups() != 0) request_limits.max_groups = request.max_groups();

  std::vector<std::unique_ptr<ColumnSink>> sinks;
  std::vector<RecordSink*> raw;
  for (size_t i = 0; i < partitions.value(); ++i) {
    sinks.push_back(std::make_unique<ColumnSink>(plan.value(), request_limits, request.policy()));
    raw.push_back(sinks.back().get());
  }
  Status status = read_source(request.source(), plan.value().projected, raw, context);
  for (auto& sink : sinks) {
    if (status.ok()) status = sink->flush();
  }
  uint64_t records = 0;
  for (size_t i = 0; i < sinks.size(); ++i) {
    records += sinks[i]->records();
    if (i > 0) {
      sinks[0]->log().merge(sinks[i]->log());
      if (status.ok()) status = sinks[0]->aggregator().merge(sinks[i]->aggregator());
    }
  }
  metrics.records_read->inc(static_cast<double>(records));
  metrics.records_rejected->inc(static_cast<double>(sinks[0]->log().rejected()));
  log_rejections(context.request_id(), *model.value(), sinks[0]->log());
  if (!status.ok()) {
    if (status.error().code == Code::kResourceExhausted) metrics.limit_rejections->inc();
    return status;
  }
  sinks[0]->aggregator().finish(response);
  if (plan.value().moving) apply_moving_window(*plan.value().moving, response);
  response->set_records_read(records);
  sinks[0]->log().write(response->mutable_report());
  return Status::Ok();
}

Status run_decode(const v1::DecodeRequest& request, v1::DecodeResponse* response, TaskContext& context,
                  const Schema* schema, const AggregateLimits& limits, const AggregateMetrics& metrics) {
  auto model = find_model(schema, request.source());
  if (!model.ok()) return model.error();
  if (request.limit() > limits.max_decode_records) {
    return Error::out_of_range("limit", fmt::format("<= {} (aggregate.max_decode_records)", limits.max_decode_records),
                               std::to_string(request.limit()));
  }
  const uint32_t limit = request.limit() == 0 ? limits.max_decode_records : request.limit();
  JsonSink sink(response, limit, request.policy(), limits.max_violations_reported);
  v1::RecordSource source = request.source();
  if (source.has_mongo()) source.mutable_mongo()->set_partitions(1);
  Status status = read_source(source, *model.value(), {&sink}, context);
  metrics.records_read->inc(static_cast<double>(sink.records()));
  metrics.records_rejected->inc(static_cast<double>(sink.log().rejected()));
  log_rejections(context.request_id(), *model.value(), sink.log());
  if (!status.ok()) return status;
  response->set_records_read(sink.records());
  sink.log().write(response->mutable_report());
  return Status::Ok();
}

Status register_aggregate_tasks(TaskRegistry& registry, const AggregateSettings& settings, Metrics& metrics) {
  std::shared_ptr<const Schema> schema;
  if (!settings.schema_file.empty()) {
    auto loaded = load_schema_file(settings.schema_file);
    if (!loaded.ok()) return loaded.error();
    schema = std::make_shared<const Schema>(std::move(loaded).value());
    spdlog::info("event=schema.loaded file={} models={}", log_value(settings.schema_file), schema->models.size());
  }
  const AggregateMetrics counters = declare_aggregate_metrics(metrics);
  const AggregateLimits limits = settings.limits;
  Status status = registry.add<v1::AggregateRequest, v1::AggregateResponse>(
      "aggregate.run", [schema, limits, counters](const v1::AggregateRequest& request, v1::AggregateResponse* response,
                                                  TaskContext& context) {
        return run_aggregate(request, response, context, schema.get(), limits, counters);
      });
  if (!status.ok()) return status;
  return registry.add<v1::DecodeRequest, v1::DecodeResponse>(
      "aggregate.decode",
      [schema, limits, counters](const v1::DecodeRequest& request, v1::DecodeResponse* response, TaskContext& context) {
        return run_decode(request, response, context, schema.get(), limits, counters);
      });
}

}  // namespace heavylift
