-- wrk script: POST the body in $BODY_FILE with $AUTH_HEADER; the body is
-- form-encoded unless $CONTENT_TYPE says otherwise. With $NEW_CONNECTION set,
-- each request asks the server to close the connection after answering, so
-- every call pays a TCP connect as Python's xmlrpc.client does.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/x-www-form-urlencoded"
local auth = os.getenv("AUTH_HEADER")
if auth and auth ~= "" then
  local name, value = auth:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end
if os.getenv("NEW_CONNECTION") then
  wrk.headers["Connection"] = "close"
end
