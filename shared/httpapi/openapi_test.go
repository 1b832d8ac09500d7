package httpapi

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type recordingRouter []string

func (r *recordingRouter) HandleFunc(pattern string, _ func(http.ResponseWriter, *http.Request)) {
	*r = append(*r, pattern)
}

// TestOpenAPIListsEveryRoute keeps openapi.yaml true to the handlers: the
// same set of "METHOD /path" on both sides.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	t.Parallel()
	var routes recordingRouter
	IntakeAPI{}.Register(&routes)
	ReportsAPI{}.Register(&routes)
	DirectoryAPI{}.Register(&routes)
	GroupsAPI{}.Register(&routes)
	HealthAPI{}.Register(&routes)
	RefreshAPI{}.Register(&routes)
	RegistryAPI{}.Register(&routes)
	WorklistAPI{}.Register(&routes)
	FollowUpsAPI{}.Register(&routes)
	StatsAPI{}.Register(&routes)

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
