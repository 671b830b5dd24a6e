import Hummingbird

/// Lets a request through only with `Authorization: Bearer <admin token>`; otherwise `401`.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: AdminToken

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
              token.matches(String(header.dropFirst("Bearer ".count)))
        else {
            throw APIError.unauthorized()
        }
        return try await next(request, context)
    }
}
