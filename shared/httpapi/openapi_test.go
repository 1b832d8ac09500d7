package httpapi_test

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"gridcode/shared/httpapi"
	"gridcode/shared/web"
)

type recordingRouter []string

func (r *recordingRouter) HandleFunc(pattern string, _ func(http.ResponseWriter, *http.Request)) {
	// The root alone, "/{$}", is the path "/" in OpenAPI.
	*r = append(*r, strings.Replace(pattern, " /{$}", " /", 1))
}

// TestOpenAPIListsEveryRoute keeps openapi.yaml true to the handlers: the
// same set of "METHOD /path" on both sides.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	t.Parallel()
	var routes recordingRouter
	httpapi.IntakeAPI{}.Register(&routes)
	httpapi.ReportsAPI{}.Register(&routes)
	httpapi.DirectoryAPI{}.Register(&routes)
	httpapi.GroupsAPI{}.Register(&routes)
	httpapi.HealthAPI{}.Register(&routes)
	httpapi.RefreshAPI{}.Register(&routes)
	httpapi.RegistryAPI{}.Register(&routes)
	httpapi.WorklistAPI{}.Register(&routes)
	httpapi.FollowUpsAPI{}.Register(&routes)
	httpapi.StatsAPI{}.Register(&routes)
	site, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	site.Register(&routes)

	raw, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "patch":
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(routes)
	slices.Sort(documented)
	if !slices.Equal(routes, documented) {
		t.Fatalf("routes and openapi.yaml differ:\nhandlers: %v\nopenapi:  %v", routes, documented)
	}
}
