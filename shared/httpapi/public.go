package httpapi

// PublicRoutes are the routes anyone may call, as the handlers register
// them: the report and join forms and their writes, the pages and their
// assets, the grid, county, risk-area and guidance reads, the report codes
// and the health check. Every other route is staff only: in the cloud
// API Gateway's JWT authorizer guards it (template.yaml gives exactly these
// Authorizer: NONE, a test checks), here Staff.
var PublicRoutes = []string{
	"GET /{$}",
	"GET /r",
	"GET /r/{gridCode}",
	"GET /join/{groupId}",
	"GET /console",
	"GET /group",
	"GET /dashboard",
	"GET /admin/posters",
	"GET /assets/{file}",
	"GET /healthz",
	"GET /v1/grids",
	"GET /v1/areas",
	"GET /v1/qr.png",
	"GET /v1/grids/{gridCode}/qr.png",
	"GET /v1/risk-areas",
	"GET /v1/guidance",
	"GET /v1/groups/{groupId}/join",
	"POST /v1/reports",
	"POST /v1/grids/{gridCode}/reports",
	"POST /v1/groups/{groupId}/join",
}
