// The process-wide setup of libmongoc, shared by the MongoDB reader of the
// aggregate tasks and the GridFS store of the file tasks.
#pragma once

namespace heavylift {

// Calls mongoc_init() once per process. Before that, it sends libmongoc's own
// log messages (driver warnings, such as a server that lacks a command) to the
// daemon's log as `event=mongoc.log` lines, where libmongoc would print them
// to stderr in its own format. Debug and trace messages are dropped.
void initialize_mongoc();

}  // namespace heavylift
