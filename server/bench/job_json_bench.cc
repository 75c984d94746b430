// Micro-benchmarks of the proto3 JSON codec the queue workers run on every
// job: decoding a job's data and encoding its result.
#include <benchmark/benchmark.h>

#include <string>

#include "heavylift/v1/image.pb.h"
#include "heavylift/v1/testing.pb.h"
#include "jobs/task_job.h"

namespace {

heavylift::Task task_for(const google::protobuf::Message& request) {
  heavylift::Task task;
  task.name = "bench";
  task.request_prototype = &request;
  return task;
}

void BM_DecodeEchoJob(benchmark::State& state) {
  const heavylift::Task task = task_for(heavylift::v1::EchoRequest::default_instance());
  const std::string payload = R"({"payload":""})";
  for (auto _ : state) {
    auto request = heavylift::decode_job_request(task, payload, heavylift::PayloadFormat::kJson);
    if (!request.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(request);
  }
}
BENCHMARK(BM_DecodeEchoJob);

void BM_DecodeThumbnailJob(benchmark::State& state) {
  const heavylift::Task task = task_for(heavylift::v1::ThumbnailRequest::default_instance());
  const std::string payload = R"({"input":{"path":"photos/a.jpg"},"widths":[320,640],"format":"IMAGE_FORMAT_WEBP","quality":80,"autoOrient":true})";
  for (auto _ : state) {
    auto request = heavylift::decode_job_request(task, payload, heavylift::PayloadFormat::kJson);
    if (!request.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(request);
  }
}
BENCHMARK(BM_DecodeThumbnailJob);

void BM_EncodeEchoResult(benchmark::State& state) {
  heavylift::v1::EchoResponse response;
  for (auto _ : state) {
    std::string json = heavylift::encode_job_result(response);
    benchmark::DoNotOptimize(json);
  }
}
BENCHMARK(BM_EncodeEchoResult);

}  // namespace
