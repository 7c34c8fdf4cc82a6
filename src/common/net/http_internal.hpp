#pragma once
// Private to the HTTP server's two Beast translation units (http_server.cpp,
// websocket.cpp): the WebSocket client registry the server hands upgrade
// requests to. Not for other code: it exposes Beast types.

#include "common/net/http.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>

namespace lava::common::net::detail {

class WebSockets {
public:
    explicit WebSockets(WebSocketOptions options);
    ~WebSockets();
    WebSockets(const WebSockets&) = delete;
    WebSockets& operator=(const WebSockets&) = delete;

    // An upgrade request on a path the options accept.
    bool wants(const boost::beast::http::request<boost::beast::http::string_body>& req, const HttpRequest& r) const;
    // Runs the client's connection to its end (the stream is taken over).
    boost::asio::awaitable<void> serve(boost::beast::tcp_stream stream,
                                       boost::beast::http::request<boost::beast::http::string_body> req,
                                       HttpRequest r, std::string server_name);
    std::size_t broadcast(const std::shared_ptr<const std::string>& text,
                          const std::function<bool(std::uint64_t)>& to);
    std::size_t clients() const;
    std::uint64_t overflows() const;
    // Closes every client (close code 1001, going away); serve() calls end.
    void close_all();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lava::common::net::detail
