-- Sends the same event request over and over: the body from BODY_FILE, the shared-access
-- signature from TOKEN, the content type from CONTENT_TYPE. wrk reports non-201 answers itself.
local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = file:read("*a")
file:close()
wrk.method = "POST"
wrk.headers["Authorization"] = os.getenv("TOKEN")
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE")
