package e2e_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gridcode/infra/lambdarie"
	"gridcode/infra/qrread"
	"gridcode/shared/auth"
	"gridcode/shared/web"
)

// gcReportURL is REPORT_URL as the template makes it.
const gcReportURL = "https://aaaaaaaaaa.execute-api.cn-north-1.amazonaws.com.cn/" + gcStage + "/r"

// testPageData checks what the pages read from the directory function:
// the county list, the report codes and who a token is.
func (s *system) testPageData(ctx context.Context, t *testing.T) {
	res := s.invoke(ctx, t, s.directory, request{Route: "GET /v1/areas"})
	var tree struct {
		Provinces []struct {
			Name   string `json:"name"`
			Cities []struct {
				Name     string                        `json:"name"`
				Counties []struct{ Code, Name string } `json:"counties"`
			} `json:"cities"`
		} `json:"provinces"`
	}
	res.want(t, http.StatusOK, &tree)
	found := false
	for _, p := range tree.Provinces {
		for _, c := range p.Cities {
			for _, k := range c.Counties {
				found = found || (p.Name == "广东省" && c.Name == "江门市" && k.Code == "440703" && k.Name == "蓬江区")
			}
		}
	}
	if !found {
		t.Error("GET /v1/areas has no 广东省 › 江门市 › 蓬江区 440703")
	}
	if cc := res.header("Cache-Control"); !strings.Contains(cc, "max-age") {
		t.Errorf("the county list is not cacheable: Cache-Control %q", cc)
	}

	code := s.invoke(ctx, t, s.directory, request{Route: "GET /v1/grids/{gridCode}/qr.png", Path: "/v1/grids/" + gridA + "/qr.png"})
	if code.Status != http.StatusOK || code.header("Content-Type") != "image/png" {
		t.Fatalf("grid code: %d %s", code.Status, code.header("Content-Type"))
	}
	if got, want := readQR(t, code.Body), gcReportURL+"/"+gridA; got != want {
		t.Errorf("grid %s's code opens %q, want %q", gridA, got, want)
	}
	district := s.invoke(ctx, t, s.directory, request{Route: "GET /v1/qr.png"})
	if got := readQR(t, district.Body); got != gcReportURL {
		t.Errorf("the district code opens %q, want %q", got, gcReportURL)
	}
	var refused map[string]any
	s.invoke(ctx, t, s.directory, request{Route: "GET /v1/grids/{gridCode}/qr.png", Path: "/v1/grids/nosuchgrid/qr.png"}).want(t, http.StatusNotFound, &refused)

	var me struct {
		Role auth.Role `json:"role"`
		Grid string    `json:"grid"`
	}
	s.invoke(ctx, t, s.directory, withToken(request{Route: "GET /v1/me"}, s.token(t, gridB))).want(t, http.StatusOK, &me)
	if me.Role != auth.GridWorker || me.Grid != gridB {
		t.Errorf("GET /v1/me = %+v, want grid_worker of %s", me, gridB)
	}
	s.invoke(ctx, t, s.directory, request{Route: "GET /v1/me"}).want(t, http.StatusUnauthorized, &refused)
}

func readQR(t *testing.T, b []byte) string {
	t.Helper()
	text, err := qrread.Text(b)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// The web function under the emulator serves every page behind the
// template's named stage: the stage is taken off before routing and put
// back in front of every link, so a page's script and stylesheet load.
func TestWebFunction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fixture, err := os.ReadFile(filepath.Join("testdata", "apigw-v2-request.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := &system{fixture: fixture}
	emu := lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/web"), "AWS_LAMBDA_LOG_FORMAT=JSON")

	for _, p := range web.Pages {
		route := p.Route
		path := strings.TrimPrefix(strings.Replace(route, "{$}", "", 1), "GET ")
		path = strings.NewReplacer("{gridCode}", gridA, "{groupId}", "GABCD2345").Replace(path)
		res := s.invoke(ctx, t, emu, request{Route: strings.Replace(route, "/{$}", "/", 1), Path: path})
		if res.Status != http.StatusOK || !strings.HasPrefix(res.header("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s", path, res.Status, res.header("Content-Type"))
			continue
		}
		body := string(res.Body)
		if !strings.Contains(body, `href="/`+gcStage+`/assets/gc.css?v=`) {
			t.Errorf("%s: the stylesheet is not linked under the stage /%s", path, gcStage)
		}
		if p.Script != "" && !strings.Contains(body, `src="/`+gcStage+`/assets/`+p.Script+`?v=`) {
			t.Errorf("%s: its script %s is not linked under the stage", path, p.Script)
		}
		if csp := res.header("Content-Security-Policy"); csp != web.CSP {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
	}
	if res := s.invoke(ctx, t, emu, request{Route: "GET /r/{gridCode}", Path: "/r/" + gridA}); !strings.Contains(string(res.Body), `content="`+gridA+`"`) {
		t.Errorf("/r/%s does not carry its grid code to the form", gridA)
	}
	js := s.invoke(ctx, t, emu, request{Route: "GET /assets/{file}", Path: "/assets/gc.js"})
	if js.Status != http.StatusOK || !strings.HasPrefix(js.header("Content-Type"), "text/javascript") || !bytes.Contains(js.Body, []byte("export function el(")) {
		t.Errorf("gc.js: %d %s", js.Status, js.header("Content-Type"))
	}
	if res := s.invoke(ctx, t, emu, request{Route: "GET /assets/{file}", Path: "/assets/nope.js"}); res.Status != http.StatusNotFound {
		t.Errorf("a missing asset: %d, want 404", res.Status)
	}
}
