#pragma once
// Bounds on what one untrusted input may make a parser or renderer do:
// nesting depth, node counts, loop iterations, bytes produced. Every parser
// of outside input (YAML, JSON, Jinja2 templates) checks them and answers
// an input that passes one with an error naming the setting, instead of
// recursing until the stack overflows or allocating until the process dies.
//
// One set per process (docs/adr/0010-input-limits.md): a daemon sets it once
// from its settings, on the main thread, before it starts other threads;
// afterwards it is only read, from any thread. Programs that set nothing get
// the defaults below.

#include <cstddef>
#include <string>

namespace lava {

struct InputLimits {
    // YAML (job definitions, test definitions, device configurations, log
    // lines, settings): collections nested in one another, and nodes in one
    // document counting each use of an alias as a copy of what it names.
    int yaml_max_depth = 100;
    int yaml_max_nodes = 1000000;
    // JSON (REST bodies, events, worker API replies): the same two bounds.
    int json_max_depth = 100;
    int json_max_nodes = 1000000;
    // XML-RPC: arrays and structs nested in one another.
    int xmlrpc_max_depth = 64;
    // Jinja2 (device dictionaries, device-type templates):
    int jinja_max_template_bytes = 1 << 20;  // the source of one template
    int jinja_max_depth = 100;               // nesting of statements, expressions and values; include/extends/block calls
    int jinja_max_range = 100000;            // items of one range(), as Jinja2's sandbox
    int jinja_max_iterations = 1000000;      // loop iterations in one render, all loops together
    int jinja_max_output_bytes = 16 << 20;   // text one render produces, and any string or list it builds
    // Frames: one WebSocket message, one ZMQ message.
    int websocket_max_message_bytes = 1 << 20;  // also what lava-publisher reads from its clients
    int zmq_max_message_bytes = 4 << 20;
};

// The process's limits.
const InputLimits& input_limits();
// Replaces them; call once at start-up, before other threads run.
void set_input_limits(const InputLimits& limits);

// "collections nested deeper than 100 (yaml_max_depth)", "the template is
// longer than 1048576 bytes (jinja_max_template_bytes)": the error text for
// an input past the limit named `setting`.
std::string limit_message(const std::string& what, long long value, const char* setting,
                          const char* unit = nullptr);

}  // namespace lava
