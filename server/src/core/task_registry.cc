#include "core/task_registry.h"

#include <fmt/format.h>

namespace heavylift {

Status TaskRegistry::add_erased(Task task) {
  if (tasks_.count(task.name) != 0) {
    return Error{Code::kFailedPrecondition,
                 fmt::format("a task named {} is already registered", task.name),
                 "", "", "", "DUPLICATE_TASK", 0};
  }
  std::string name = task.name;
  tasks_.emplace(std::move(name), std::move(task));
  return Status::Ok();
}

const Task* TaskRegistry::find(std::string_view name) const {
  const auto it = tasks_.find(name);
  return it == tasks_.end() ? nullptr : &it->second;
}

std::vector<std::string> TaskRegistry::names() const {
  std::vector<std::string> names;
  for (const auto& [name, task] : tasks_) names.push_back(name);
  return names;
}

}  // namespace heavylift
