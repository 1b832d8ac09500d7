package samtemplate

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/dynamodb"
	"github.com/awslabs/goformation/v7/cloudformation/policies"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"gridcode/shared/digest"
	"gridcode/shared/httpapi"
	"gridcode/shared/ratelimit"
	"gridcode/shared/store/dynamo"
	"gridcode/shared/web"
)

// repoRoot is where template.yaml, the Makefile and functions/ live.
const repoRoot = "../.."

// routeRegistrars mount each HTTP function's routes. Zero-value APIs are
// enough: the recording router keeps the patterns and never calls handlers.
var routeRegistrars = map[string]func(httpapi.Router){
	"IntakeFunction": httpapi.IntakeAPI{}.Register,
	"ReportsFunction": func(r httpapi.Router) {
		httpapi.ReportsAPI{}.Register(r)
		httpapi.FollowUpsAPI{}.Register(r)
	},
	"DirectoryFunction": httpapi.DirectoryAPI{}.Register,
	"GroupsFunction":    httpapi.GroupsAPI{}.Register,
	"HealthFunction":    httpapi.HealthAPI{}.Register,
	"RefreshFunction":   httpapi.RefreshAPI{}.Register,
	"RegistryFunction":  httpapi.RegistryAPI{}.Register,
	"WorklistFunction":  httpapi.WorklistAPI{}.Register,
	"StatsFunction":     httpapi.StatsAPI{}.Register,
	"WebFunction":       mustSite().Register,
}

func mustSite() *web.Site {
	site, err := web.New()
	if err != nil {
		panic(err)
	}
	return site
}

// ttlTables are the tables whose items expire, by the attribute they
// expire by (dynamo.CreateTables turns TTL on for the first two, the
// ratelimit.TimeToLive call for the send budget).
var ttlTables = map[string]string{
	"ReportsTable":      dynamo.TTLAttribute,
	"AlertsTable":       dynamo.TTLAttribute,
	"DailyListsTable":   dynamo.TTLAttribute,
	"RefreshRunsTable":  dynamo.TTLAttribute,
	"ImportsTable":      dynamo.TTLAttribute,
	"ImportErrorsTable": dynamo.TTLAttribute,
	"ListsTable":        dynamo.TTLAttribute,
	"ListChunksTable":   dynamo.TTLAttribute,
	"TasksTable":        dynamo.TTLAttribute,
	"AuditTable":        dynamo.TTLAttribute,
	"SendBudgetTable":   ratelimit.TTLAttribute,
	"RateLimitsTable":   ratelimit.TTLAttribute,
}

// keyless functions read no table and no key (the pages): no config, no
// keyset, no policies.
var keyless = map[string]bool{"WebFunction": true}

// scratchTables hold nothing worth keeping (the send budget's items live two
// minutes, the rate limits' counters a minute past their window): they need
// neither point-in-time recovery nor Retain.
var scratchTables = map[string]bool{"SendBudgetTable": true, "RateLimitsTable": true}

// forbiddenEnv are read by the code but must never be set in the cloud:
// KEYS_FILE is the local key file, DYNAMODB_ENDPOINT and SNS_ENDPOINT point
// at test fakes.
var forbiddenEnv = []string{"KEYS_FILE", "DYNAMODB_ENDPOINT", "SNS_ENDPOINT", "SQS_ENDPOINT"}

// template is template.yaml seen twice: typed by goformation (which
// resolves intrinsics, so references to resources become null) and as a
// yaml.v3 tree that keeps !Ref/!GetAtt/!Sub and so the reference targets.
type template struct {
	cfn  *cloudformation.Template
	yaml *yaml.Node // the top-level mapping
}

func loadTemplate(t *testing.T) template {
	t.Helper()
	path := filepath.Join(repoRoot, "template.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseTemplate(t, path, data)
}

// parseTemplate reads a template from data (named path in messages).
func parseTemplate(t *testing.T, path string, data []byte) template {
	t.Helper()
	cfn, err := goformation.ParseYAML(data)
	if err != nil {
		t.Fatalf("goformation cannot parse %s: %v", path, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("yaml.v3 cannot parse %s: %v", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("%s: top level is not a mapping", path)
	}
	return template{cfn: cfn, yaml: doc.Content[0]}
}

// functions returns the SAM functions by logical id; it fails if there are none.
func (tp template) functions(t *testing.T) map[string]*serverless.Function {
	t.Helper()
	fns := tp.cfn.GetAllServerlessFunctionResources()
	if len(fns) == 0 {
		t.Fatal("template.yaml declares no AWS::Serverless::Function")
	}
	return fns
}

// resourceProps is Resources.<id>.Properties in the yaml tree (nil if absent).
func (tp template) resourceProps(id string) *yaml.Node {
	return get(get(get(tp.yaml, "Resources"), id), "Properties")
}

// get returns the value of key in a mapping node, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// items returns a sequence's items, or the node itself for a single value
// (IAM accepts both for Action and Resource).
func items(n *yaml.Node) []*yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.SequenceNode && !isIntrinsic(n) {
		return n.Content
	}
	return []*yaml.Node{n}
}

func isIntrinsic(n *yaml.Node) bool {
	switch n.Tag {
	case "!Ref", "!GetAtt", "!Sub", "!Join", "!Select", "!If", "!FindInMap", "!ImportValue", "!Split", "!Base64", "!GetAZs", "!Cidr":
		return true
	}
	return false
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// refs collects the logical ids (resources and parameters) that n refers
// to with Ref, Fn::GetAtt or Fn::Sub, in short (!Ref) or long form.
func refs(n *yaml.Node, into map[string]bool) {
	if n == nil {
		return
	}
	addGetAtt := func(v *yaml.Node) {
		switch v.Kind {
		case yaml.ScalarNode:
			id, _, _ := strings.Cut(v.Value, ".")
			into[id] = true
		case yaml.SequenceNode:
			if len(v.Content) > 0 {
				into[v.Content[0].Value] = true
			}
		}
	}
	addSubNode := func(v *yaml.Node) {
		tmpl, local := v.Value, map[string]bool{}
		if v.Kind == yaml.SequenceNode {
			// [template, {Var: value}]: the map's names are local to the
			// Sub, not references; its values are walked below.
			if len(v.Content) == 0 {
				return
			}
			tmpl = v.Content[0].Value
			if len(v.Content) > 1 && v.Content[1].Kind == yaml.MappingNode {
				for i := 0; i < len(v.Content[1].Content); i += 2 {
					local[v.Content[1].Content[i].Value] = true
				}
			}
		}
		for _, m := range subVar.FindAllStringSubmatch(tmpl, -1) {
			id, _, _ := strings.Cut(m[1], ".")
			if !local[id] && !strings.HasPrefix(id, "AWS::") {
				into[id] = true
			}
		}
	}
	switch n.Tag {
	case "!Ref":
		if !strings.HasPrefix(n.Value, "AWS::") {
			into[n.Value] = true
		}
	case "!GetAtt":
		addGetAtt(n)
	case "!Sub":
		addSubNode(n)
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		switch v := n.Content[1]; n.Content[0].Value {
		case "Ref":
			if v.Kind == yaml.ScalarNode && !strings.HasPrefix(v.Value, "AWS::") {
				into[v.Value] = true
			}
		case "Fn::GetAtt":
			addGetAtt(v)
		case "Fn::Sub":
			addSubNode(v)
		}
	}
	for _, c := range n.Content {
		refs(c, into)
	}
}

// only keeps the ids in ids that are keys of universe, sorted.
func only[V any](ids map[string]bool, universe map[string]V) []string {
	var out []string
	for id := range ids {
		if _, ok := universe[id]; ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// functionDir maps IntakeFunction to functions/intake.
func functionDir(t *testing.T, logicalID string) string {
	t.Helper()
	prefix, ok := strings.CutSuffix(logicalID, "Function")
	if !ok || prefix == "" {
		t.Fatalf("%s: a function's logical id must be <Name>Function so that it maps to functions/<name>", logicalID)
	}
	return filepath.Join("functions", strings.ToLower(prefix))
}

// Check 1: sam build (BuildMethod makefile) finds a build-<LogicalId>
// target, and that target has a function folder with a main.go.
func TestFunctionsBuildFromMakefile(t *testing.T) {
	tp := loadTemplate(t)
	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	global, _ := tp.cfn.GetServerlessGlobalFunction()
	for id, fn := range tp.functions(t) {
		t.Run(id, func(t *testing.T) {
			if got := fn.AWSCloudFormationMetadata["BuildMethod"]; got != "makefile" {
				t.Errorf("%s: Metadata.BuildMethod = %v, want makefile (sam build runs `make build-%s`)", id, got, id)
			}
			if fn.CodeUri == nil || fn.CodeUri.String == nil || *fn.CodeUri.String != "." {
				t.Errorf("%s: CodeUri must be . (the repository root, where the Makefile and go.mod are)", id)
			}
			target := regexp.MustCompile(`(?m)^build-` + regexp.QuoteMeta(id) + `\s*:`)
			if !target.Match(makefile) {
				t.Errorf("%s: Makefile has no target build-%s:", id, id)
			}
			dir := functionDir(t, id)
			if _, err := os.Stat(filepath.Join(repoRoot, dir, "main.go")); err != nil {
				t.Errorf("%s: %s/main.go: %v", id, dir, err)
			}
			if !bytes.Contains(makefile, []byte("./"+filepath.ToSlash(dir))) {
				t.Errorf("%s: Makefile never builds ./%s", id, dir)
			}
			// The Makefile cross-compiles for arm64 and names the binary bootstrap.
			runtime, handler, arch := fn.Runtime, fn.Handler, fn.Architectures
			if global != nil {
				runtime, handler = cmpOr(runtime, global.Runtime), cmpOr(handler, global.Handler)
				if arch == nil && global.Architectures != nil {
					arch = *global.Architectures
				}
			}
			if runtime == nil || *runtime != "provided.al2023" {
				t.Errorf("%s: Runtime = %v, want provided.al2023", id, deref(runtime))
			}
			if handler == nil || *handler != "bootstrap" {
				t.Errorf("%s: Handler = %v, want bootstrap", id, deref(handler))
			}
			if !slices.Equal(arch, []string{"arm64"}) || !bytes.Contains(makefile, []byte("GOARCH=arm64")) {
				t.Errorf("%s: Architectures = %v; want [arm64], matching GOARCH=arm64 in the Makefile", id, arch)
			}
		})
	}
}

func cmpOr(a, b *string) *string {
	if a != nil {
		return a
	}
	return b
}

func deref(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}

// envVar is one variable a function's config struct reads.
type envVar struct {
	required bool
	from     string // type.field, for messages
}

// goPackage is the struct types of one package of this module, and how
// its files name their imports.
type goPackage struct {
	dir     string
	structs map[string]*ast.StructType
	imports map[string]string // local name -> import path
}

func parsePackage(t *testing.T, dir string) goPackage {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot, dir))
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	pkg := goPackage{dir: dir, structs: map[string]*ast.StructType{}, imports: map[string]string{}}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(repoRoot, dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s/%s: %v", dir, name, err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			local := path[strings.LastIndex(path, "/")+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			pkg.imports[local] = path
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					pkg.structs[ts.Name.Name] = st
				}
			}
			return true
		})
	}
	return pkg
}

// configEnv returns the env vars that functions/<name>'s config struct
// reads, following struct fields into this module's packages (as
// go-envconfig does with nested structs, e.g. lambdaapp.Keys).
func configEnv(t *testing.T, dir string) map[string]envVar {
	t.Helper()
	pkg := parsePackage(t, dir)
	cfg, ok := pkg.structs["config"]
	if !ok {
		t.Fatalf("%s: no `type config struct` (the function's typed config)", dir)
	}
	vars := map[string]envVar{}
	loaded := map[string]goPackage{dir: pkg}
	var walk func(pkg goPackage, typeName string, st *ast.StructType, prefix string)
	walk = func(pkg goPackage, typeName string, st *ast.StructType, prefix string) {
		for _, field := range st.Fields.List {
			fieldName := typeName
			if len(field.Names) > 0 {
				fieldName += "." + field.Names[0].Name
			}
			var name string
			var opts []string
			if field.Tag != nil {
				tag, _ := strconv.Unquote(field.Tag.Value)
				if env, ok := reflect.StructTag(tag).Lookup("env"); ok {
					parts := strings.Split(env, ",")
					name = strings.TrimSpace(parts[0])
					for _, o := range parts[1:] {
						opts = append(opts, strings.TrimSpace(o))
					}
				}
			}
			if name != "" {
				vars[prefix+name] = envVar{required: slices.Contains(opts, "required"), from: fieldName}
				continue
			}
			nested := prefix
			for _, o := range opts {
				if p, ok := strings.CutPrefix(o, "prefix="); ok {
					nested += p
				}
			}
			// An untagged (or prefix-only) struct field: follow it.
			typ := field.Type
			if star, ok := typ.(*ast.StarExpr); ok {
				typ = star.X
			}
			switch typ := typ.(type) {
			case *ast.Ident:
				if inner, ok := pkg.structs[typ.Name]; ok {
					walk(pkg, typ.Name, inner, nested)
				}
			case *ast.SelectorExpr:
				x, ok := typ.X.(*ast.Ident)
				if !ok {
					continue
				}
				path := pkg.imports[x.Name]
				rel, ok := strings.CutPrefix(path, "gridcode/")
				if !ok {
					continue // e.g. time.Duration without a tag: not config
				}
				other, ok := loaded[rel]
				if !ok {
					other = parsePackage(t, rel)
					loaded[rel] = other
				}
				inner, ok := other.structs[typ.Sel.Name]
				if !ok {
					t.Fatalf("%s: field %s has type %s.%s, which is not a struct in %s", dir, fieldName, x.Name, typ.Sel.Name, rel)
				}
				walk(other, x.Name+"."+typ.Sel.Name, inner, nested)
			}
		}
	}
	walk(pkg, "config", cfg, "")
	if len(vars) == 0 {
		t.Fatalf("%s: config reads no env vars; is the env tag spelled env:\"NAME\"?", dir)
	}
	return vars
}

// templateEnv is what the function gets: Globals.Function's variables
// overlaid with its own.
func templateEnv(tp template, fn *serverless.Function) map[string]bool {
	set := map[string]bool{}
	if g, err := tp.cfn.GetServerlessGlobalFunction(); err == nil && g.Environment != nil {
		for k := range g.Environment.Variables {
			set[k] = true
		}
	}
	if fn.Environment != nil {
		for k := range fn.Environment.Variables {
			set[k] = true
		}
	}
	return set
}

// Check 2: the template sets what the code requires, the cloud keyset, and
// nothing the code does not read or must not get in the cloud.
func TestFunctionEnvMatchesConfig(t *testing.T) {
	tp := loadTemplate(t)
	for id, fn := range tp.functions(t) {
		t.Run(id, func(t *testing.T) {
			set := templateEnv(tp, fn)
			if keyless[id] {
				if len(set) > 0 || fn.Policies != nil {
					t.Errorf("%s reads no table and no key: it needs no env (has %v) and no policies", id, slices.Sorted(maps.Keys(set)))
				}
				return
			}
			dir := functionDir(t, id)
			reads := configEnv(t, dir)
			for _, name := range slices.Sorted(maps.Keys(reads)) {
				if v := reads[name]; v.required && !set[name] {
					t.Errorf("%s: %s is required by %s (%s) but template.yaml does not set it", id, name, dir, v.from)
				}
			}
			if !set["KEYS_PARAMETER"] {
				t.Errorf("%s: KEYS_PARAMETER is not set; in the cloud the keyset comes from the SSM parameter", id)
			}
			for _, name := range forbiddenEnv {
				if set[name] {
					t.Errorf("%s: %s must not be set in template.yaml (local runs and tests only)", id, name)
				}
			}
			for _, name := range slices.Sorted(maps.Keys(set)) {
				if _, ok := reads[name]; !ok {
					t.Errorf("%s: template.yaml sets %s, which %s's config never reads", id, name, dir)
				}
			}
		})
	}
}

// statement is one IAM statement of a function's inline policies.
type statement struct {
	sid       string
	actions   []*yaml.Node
	resources []*yaml.Node
	node      *yaml.Node
}

func policyStatements(t *testing.T, tp template, id string) []statement {
	t.Helper()
	var out []statement
	for _, doc := range items(get(tp.resourceProps(id), "Policies")) {
		if doc.Kind != yaml.MappingNode {
			// A managed policy name or a SAM policy template reference
			// cannot be checked for its resources: keep policies inline.
			t.Errorf("%s: policy %q at line %d is not an inline policy document (Statement: ...)", id, doc.Value, doc.Line)
			continue
		}
		stmts := get(doc, "Statement")
		if stmts == nil {
			t.Errorf("%s: policy at line %d has no Statement (SAM policy templates are not allowed: they grant more than the function uses)", id, doc.Line)
			continue
		}
		for _, s := range items(stmts) {
			st := statement{node: s, actions: items(get(s, "Action")), resources: items(get(s, "Resource"))}
			if sid := get(s, "Sid"); sid != nil {
				st.sid = sid.Value
			}
			if get(s, "NotAction") != nil || get(s, "NotResource") != nil {
				t.Errorf("%s: statement %q (line %d) uses NotAction/NotResource", id, st.sid, s.Line)
			}
			out = append(out, st)
		}
	}
	return out
}

var indexARN = regexp.MustCompile(`\$\{(\w+)\.Arn\}/index/([^/*]+)$`)

// Check 3: a function's policies name exactly the tables it is configured
// with, never "*", and only indexes that exist.
func TestPoliciesNameOnlyUsedTables(t *testing.T) {
	tp := loadTemplate(t)
	tables := tp.cfn.GetAllDynamoDBTableResources()
	params := tp.cfn.Parameters
	for id := range tp.functions(t) {
		t.Run(id, func(t *testing.T) {
			envRefs := map[string]bool{}
			refs(get(get(tp.resourceProps(id), "Environment"), "Variables"), envRefs)
			globalEnv := get(get(get(get(tp.yaml, "Globals"), "Function"), "Environment"), "Variables")
			refs(globalEnv, envRefs)

			stmts := policyStatements(t, tp, id)
			policyRefs := map[string]bool{}
			for _, st := range stmts {
				refs(st.node, policyRefs)
				dynamoStatement := false
				for _, a := range st.actions {
					if a.Value == "*" || strings.HasPrefix(strings.ToLower(a.Value), "dynamodb:") {
						dynamoStatement = true
					}
					if strings.Contains(a.Value, "*") {
						t.Errorf("%s: statement %q grants wildcard action %q (line %d)", id, st.sid, a.Value, a.Line)
					}
				}
				if !dynamoStatement {
					continue
				}
				for _, r := range st.resources {
					if r.Tag == "!!str" || strings.Contains(r.Value, "*") {
						t.Errorf("%s: statement %q: DynamoDB resource %q (line %d) must be a table ARN via !GetAtt X.Arn or !Sub ${X.Arn}/index/NAME, without wildcards", id, st.sid, r.Value, r.Line)
					}
					if r.Tag == "!Sub" {
						if m := indexARN.FindStringSubmatch(r.Value); m != nil {
							if !tableHasIndex(tables[m[1]], m[2]) {
								t.Errorf("%s: statement %q names index %s of %s, which the table does not declare", id, st.sid, m[2], m[1])
							}
						}
					}
				}
			}

			wantTables, gotTables := only(envRefs, tables), only(policyRefs, tables)
			if diff := cmp.Diff(wantTables, gotTables); diff != "" {
				t.Errorf("%s: tables named in policies differ from tables in its env vars (-env +policies):\n%s", id, diff)
			}
			envParams, policyParams := only(envRefs, params), only(policyRefs, params)
			for _, p := range policyParams {
				if !slices.Contains(envParams, p) {
					t.Errorf("%s: policies name parameter %s, which no env var of the function uses", id, p)
				}
			}
			if keys := get(get(get(tp.resourceProps(id), "Environment"), "Variables"), "KEYS_PARAMETER"); keys != nil {
				keyRefs := map[string]bool{}
				refs(keys, keyRefs)
				for _, p := range only(keyRefs, params) {
					if !slices.Contains(policyParams, p) {
						t.Errorf("%s: KEYS_PARAMETER comes from parameter %s, but no policy grants ssm:GetParameter on it", id, p)
					}
				}
			}
		})
	}
}

func tableHasIndex(table *dynamodb.Table, name string) bool {
	if table == nil {
		return false
	}
	return slices.ContainsFunc(table.GlobalSecondaryIndexes, func(g dynamodb.Table_GlobalSecondaryIndex) bool { return g.IndexName == name }) ||
		slices.ContainsFunc(table.LocalSecondaryIndexes, func(l dynamodb.Table_LocalSecondaryIndex) bool { return l.IndexName == name })
}

// routeRecorder is an httpapi.Router that keeps the patterns.
type routeRecorder []string

func (r *routeRecorder) HandleFunc(pattern string, _ func(http.ResponseWriter, *http.Request)) {
	*r = append(*r, pattern)
}

// goPatternToRoute turns a Go 1.22 ServeMux pattern into API Gateway's
// "METHOD /path" form: {name...} is {name+}, a missing method is ANY.
func goPatternToRoute(t *testing.T, pattern string) string {
	t.Helper()
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "ANY", pattern
	}
	if !strings.HasPrefix(path, "/") {
		t.Fatalf("pattern %q has a host; API Gateway routes have none", pattern)
	}
	// The root alone ("/{$}") is API Gateway's "/", which matches only the
	// root; {$} anywhere else has no API Gateway form.
	if path == "/{$}" {
		path = "/"
	}
	if strings.Contains(path, "{$}") {
		t.Fatalf("pattern %q uses {$}, which API Gateway cannot express", pattern)
	}
	path = regexp.MustCompile(`\{(\w+)\.\.\.\}`).ReplaceAllString(path, "{$1+}")
	return strings.ToUpper(method) + " " + path
}

// Check 4: each function's HttpApi events are exactly the routes its
// handler registers, on the template's HttpApi.
func TestRoutesMatchHandlers(t *testing.T) {
	tp := loadTemplate(t)
	apis := tp.cfn.GetAllServerlessHttpApiResources()
	for id, fn := range tp.functions(t) {
		t.Run(id, func(t *testing.T) {
			var events []string
			for name, ev := range fn.Events {
				if ev.Type != "HttpApi" {
					continue
				}
				if ev.Properties == nil || ev.Properties.HttpApiEvent == nil {
					t.Errorf("%s: event %s: goformation could not read it as an HttpApi event", id, name)
					continue
				}
				h := ev.Properties.HttpApiEvent
				if h.Method == nil || h.Path == nil {
					t.Errorf("%s: event %s needs Method and Path", id, name)
					continue
				}
				events = append(events, strings.ToUpper(*h.Method)+" "+*h.Path)
				apiRefs := map[string]bool{}
				refs(get(get(get(get(tp.resourceProps(id), "Events"), name), "Properties"), "ApiId"), apiRefs)
				if got := only(apiRefs, apis); len(got) != 1 {
					t.Errorf("%s: event %s: ApiId must be !Ref to the template's HttpApi (got refs %v)", id, name, slices.Sorted(maps.Keys(apiRefs)))
				}
			}
			register, ok := routeRegistrars[id]
			if !ok {
				if len(events) > 0 {
					t.Fatalf("%s has HttpApi events %v but this test does not know its httpapi Register; add it to routeRegistrars", id, events)
				}
				return
			}
			var rec routeRecorder
			register(&rec)
			var routes []string
			for _, p := range rec {
				routes = append(routes, goPatternToRoute(t, p))
			}
			slices.Sort(routes)
			slices.Sort(events)
			if diff := cmp.Diff(routes, events); diff != "" {
				t.Errorf("%s: HttpApi events differ from the routes its handler registers (-handler +template):\n%s", id, diff)
			}
		})
	}
}

// awsTableSpec is how dynamo.TableSpecs describes a table.
type awsTableSpec = ddb.CreateTableInput

// tableShape is what the test compares between template and TableSpecs;
// slices are sorted so order does not matter.
type tableShape struct {
	Keys       []string
	Attributes []string
	Indexes    map[string][]string // name -> keys + projection
	Stream     string              // stream view type, "" without a stream
}

func specShape(in *awsTableSpec) tableShape {
	s := tableShape{Indexes: map[string][]string{}}
	for _, k := range in.KeySchema {
		s.Keys = append(s.Keys, *k.AttributeName+" "+string(k.KeyType))
	}
	for _, a := range in.AttributeDefinitions {
		s.Attributes = append(s.Attributes, *a.AttributeName+" "+string(a.AttributeType))
	}
	if in.StreamSpecification != nil && in.StreamSpecification.StreamEnabled != nil && *in.StreamSpecification.StreamEnabled {
		s.Stream = string(in.StreamSpecification.StreamViewType)
	}
	for _, g := range in.GlobalSecondaryIndexes {
		var v []string
		for _, k := range g.KeySchema {
			v = append(v, "key "+*k.AttributeName+" "+string(k.KeyType))
		}
		if g.Projection != nil {
			v = append(v, "projection "+string(g.Projection.ProjectionType))
			for _, a := range g.Projection.NonKeyAttributes {
				v = append(v, "nonkey "+a)
			}
		}
		slices.Sort(v)
		s.Indexes[*g.IndexName] = v
	}
	slices.Sort(s.Keys)
	slices.Sort(s.Attributes)
	return s
}

func templateShape(tb *dynamodb.Table) tableShape {
	s := tableShape{Indexes: map[string][]string{}}
	for _, k := range tb.KeySchema {
		s.Keys = append(s.Keys, k.AttributeName+" "+k.KeyType)
	}
	for _, a := range tb.AttributeDefinitions {
		s.Attributes = append(s.Attributes, a.AttributeName+" "+a.AttributeType)
	}
	if tb.StreamSpecification != nil {
		s.Stream = tb.StreamSpecification.StreamViewType
	}
	for _, g := range tb.GlobalSecondaryIndexes {
		var v []string
		for _, k := range g.KeySchema {
			v = append(v, "key "+k.AttributeName+" "+k.KeyType)
		}
		if g.Projection != nil {
			if g.Projection.ProjectionType != nil {
				v = append(v, "projection "+*g.Projection.ProjectionType)
			}
			for _, a := range g.Projection.NonKeyAttributes {
				v = append(v, "nonkey "+a)
			}
		}
		slices.Sort(v)
		s.Indexes[g.IndexName] = v
	}
	slices.Sort(s.Keys)
	slices.Sort(s.Attributes)
	return s
}

// Check 5: every table matches dynamo.TableSpecs and is on-demand, backed
// up, encrypted, retained, and expires items where data expires.
func TestTablesMatchTableSpecs(t *testing.T) {
	tp := loadTemplate(t)
	tables := tp.cfn.GetAllDynamoDBTableResources()
	// Naming each table by its logical id lets the specs say which is which.
	specs := dynamo.TableSpecs(dynamo.Tables{
		Reports: "ReportsTable", Alerts: "AlertsTable", Grids: "GridsTable", Rules: "RulesTable",
		Groups: "GroupsTable", Members: "MembersTable", Health: "HealthTable", DailyLists: "DailyListsTable", RefreshRuns: "RefreshRunsTable", DailyCounts: "DailyCountsTable",
		Registry: "RegistryTable", RegistryIndex: "RegistryIndexTable", Imports: "ImportsTable", ImportErrors: "ImportErrorsTable",
		Lists: "ListsTable", ListChunks: "ListChunksTable", Tasks: "TasksTable", Reconciliations: "ReconciliationsTable", Audit: "AuditTable",
	})
	specs = append(specs, ratelimit.TableSpec("SendBudgetTable"), ratelimit.CountersTableSpec("RateLimitsTable"))
	specByID := map[string]*awsTableSpec{}
	for _, s := range specs {
		specByID[*s.TableName] = s
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(specByID)), slices.Sorted(maps.Keys(tables))); diff != "" {
		t.Errorf("AWS::DynamoDB::Table resources differ from dynamo.TableSpecs and ratelimit.TableSpec (-specs +template):\n%s", diff)
	}
	for id, tb := range tables {
		t.Run(id, func(t *testing.T) {
			if spec, ok := specByID[id]; ok {
				if diff := cmp.Diff(specShape(spec), templateShape(tb)); diff != "" {
					t.Errorf("%s: schema differs from dynamo.TableSpecs (-code +template):\n%s", id, diff)
				}
			}
			if tb.BillingMode == nil || *tb.BillingMode != "PAY_PER_REQUEST" {
				t.Errorf("%s: BillingMode = %s, want PAY_PER_REQUEST", id, deref(tb.BillingMode))
			}
			if p := tb.PointInTimeRecoverySpecification; !scratchTables[id] && (p == nil || p.PointInTimeRecoveryEnabled == nil || !*p.PointInTimeRecoveryEnabled) {
				t.Errorf("%s: point-in-time recovery is not enabled", id)
			}
			if tb.SSESpecification == nil || !tb.SSESpecification.SSEEnabled {
				t.Errorf("%s: SSESpecification.SSEEnabled is not true", id)
			}
			ttl := tb.TimeToLiveSpecification
			if attr, ok := ttlTables[id]; ok {
				if ttl == nil || !ttl.Enabled || ttl.AttributeName == nil || *ttl.AttributeName != attr {
					t.Errorf("%s: TimeToLiveSpecification must be enabled on %q", id, attr)
				}
			} else if ttl != nil && ttl.Enabled {
				t.Errorf("%s: TTL is on, but the code never expires this table's items", id)
			}
			if !scratchTables[id] && (tb.AWSCloudFormationDeletionPolicy != policies.DeletionPolicy("Retain") || tb.AWSCloudFormationUpdateReplacePolicy != policies.UpdateReplacePolicy("Retain")) {
				t.Errorf("%s: DeletionPolicy and UpdateReplacePolicy must be Retain (got %q, %q)", id, tb.AWSCloudFormationDeletionPolicy, tb.AWSCloudFormationUpdateReplacePolicy)
			}
		})
	}
}

// fanoutID is the alert fan-out function: no HTTP routes, a stream and a
// schedule, and the only function that may send SMS.
const fanoutID = "FanoutFunction"

// smsActions are what sending an SMS to a phone number takes: the opt-out
// check before Publish, and Publish. Neither has a resource to name, so
// they are the only actions any statement may grant on Resource "*", and
// only the fan-out's.
var smsActions = []string{"sns:CheckIfPhoneNumberIsOptedOut", "sns:Publish"}

// grantsAction reports whether the IAM action pattern (case-insensitive,
// with * and ? wildcards) covers action.
func grantsAction(pattern, action string) bool {
	re := "(?i)^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	ok, err := regexp.MatchString(re, action)
	return err == nil && ok
}

// fanoutProblems checks what the fan-out function needs beyond the checks
// every function passes: its tables, its trigger, its DLQ, the spend alarm,
// and that nothing else may publish SMS.
func fanoutProblems(tp template) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	resources := get(tp.yaml, "Resources")
	props := tp.resourceProps(fanoutID)
	if props == nil {
		return []string{fanoutID + " is not in template.yaml"}
	}

	envRefs := map[string]bool{}
	refs(get(get(props, "Environment"), "Variables"), envRefs)
	tables := tp.cfn.GetAllDynamoDBTableResources()
	if got, want := only(envRefs, tables), []string{"AlertsTable", "ReportsTable", "SendBudgetTable"}; !slices.Equal(got, want) {
		bad("%s: its env vars name tables %v, want %v", fanoutID, got, want)
	}

	// sns:Publish to a phone number and sns:CheckIfPhoneNumberIsOptedOut
	// need Resource "*": only this function may have them, and a "*"
	// resource may carry exactly these two and nothing else.
	for id := range tp.cfn.GetAllServerlessFunctionResources() {
		for _, doc := range items(get(tp.resourceProps(id), "Policies")) {
			for _, st := range items(get(doc, "Statement")) {
				sid := get(st, "Sid")
				name := "?"
				if sid != nil {
					name = sid.Value
				}
				var actions []string
				for _, a := range items(get(st, "Action")) {
					actions = append(actions, a.Value)
					for _, sms := range smsActions {
						if grantsAction(a.Value, sms) && id != fanoutID {
							bad("%s: statement %q grants %s (as %q); only %s may send SMS", id, name, sms, a.Value, fanoutID)
						}
					}
				}
				sorted := slices.Sorted(slices.Values(actions))
				for _, r := range items(get(st, "Resource")) {
					if r.Value == "*" && !isIntrinsic(r) && (id != fanoutID || !slices.Equal(sorted, smsActions)) {
						bad(`%s: statement %q grants %v on Resource "*"; only %s's %v (SMS to a phone number) have no narrower resource`, id, name, actions, fanoutID, smsActions)
					}
				}
			}
		}
	}
	granted := map[string]bool{}
	readsStream := false
	for _, doc := range items(get(props, "Policies")) {
		for _, st := range items(get(doc, "Statement")) {
			for _, a := range items(get(st, "Action")) {
				if slices.Contains(smsActions, a.Value) {
					granted[a.Value] = true
				}
				if a.Value == "dynamodb:GetRecords" {
					for _, r := range items(get(st, "Resource")) {
						readsStream = readsStream || (r.Tag == "!GetAtt" && r.Value == "AlertsTable.StreamArn")
					}
				}
			}
		}
	}
	for _, a := range smsActions {
		if !granted[a] {
			bad("%s: no statement grants %s", fanoutID, a)
		}
	}
	if !readsStream {
		bad("%s: no statement grants dynamodb:GetRecords on !GetAtt AlertsTable.StreamArn", fanoutID)
	}

	var stream, schedule *yaml.Node
	evs := get(props, "Events")
	for i := 0; evs != nil && i+1 < len(evs.Content); i += 2 {
		ev := evs.Content[i+1]
		switch get(ev, "Type").Value {
		case "DynamoDB":
			stream = get(ev, "Properties")
		case "Schedule":
			schedule = get(ev, "Properties")
		case "HttpApi":
			bad("%s: has an HTTP route %s; the fan-out is not an API", fanoutID, evs.Content[i].Value)
		}
	}
	if stream == nil {
		bad("%s: no DynamoDB stream event", fanoutID)
	} else {
		if s := get(stream, "Stream"); s == nil || s.Tag != "!GetAtt" || s.Value != "AlertsTable.StreamArn" {
			bad("%s: the stream event must read !GetAtt AlertsTable.StreamArn", fanoutID)
		}
		var types []string
		for _, n := range items(get(stream, "FunctionResponseTypes")) {
			types = append(types, n.Value)
		}
		if !slices.Contains(types, "ReportBatchItemFailures") {
			bad("%s: the stream event's FunctionResponseTypes %v lack ReportBatchItemFailures: a failed record would re-send its whole batch", fanoutID, types)
		}
		if b := get(stream, "BisectBatchOnFunctionError"); b == nil || b.Value != "true" {
			bad("%s: the stream event must set BisectBatchOnFunctionError: true", fanoutID)
		}
		if r := get(stream, "MaximumRetryAttempts"); r == nil {
			bad("%s: the stream event must bound MaximumRetryAttempts (the default retries until the record expires, blocking its shard)", fanoutID)
		}
		dest := get(get(get(stream, "DestinationConfig"), "OnFailure"), "Destination")
		destRefs := map[string]bool{}
		refs(dest, destRefs)
		queues := only(destRefs, tp.cfn.GetAllSQSQueueResources())
		if len(queues) != 1 {
			bad("%s: the stream event's DestinationConfig.OnFailure must name an SQS queue of the template (refs %v)", fanoutID, slices.Sorted(maps.Keys(destRefs)))
		} else if p := get(get(get(resources, queues[0]), "Properties"), "MessageRetentionPeriod"); p == nil || p.Value != "1209600" {
			bad("%s: the dead-letter queue %s must keep messages 14 days (MessageRetentionPeriod 1209600)", fanoutID, queues[0])
		}
	}
	if schedule == nil || !strings.HasPrefix(get(schedule, "Schedule").Value, "rate(") {
		bad("%s: no Schedule event with a rate(...) for the sweep", fanoutID)
	}

	alarm := false
	for id, a := range tp.cfn.GetAllCloudWatchAlarmResources() {
		if deref(a.Namespace) != "AWS/SNS" || deref(a.MetricName) != "SMSMonthToDateSpentUSD" {
			continue
		}
		th := map[string]bool{}
		refs(get(get(get(resources, id), "Properties"), "Threshold"), th)
		alarm = alarm || th["SmsMonthlySpendLimitUSD"]
	}
	if !alarm {
		bad("no CloudWatch alarm on AWS/SNS SMSMonthToDateSpentUSD with Threshold !Ref SmsMonthlySpendLimitUSD")
	}
	return out
}

// Check 6: the fan-out function's trigger, DLQ, tables and SMS permission.
func TestFanoutFunction(t *testing.T) {
	for _, p := range fanoutProblems(loadTemplate(t)) {
		t.Error(p)
	}
}

// The checks above must be able to fail: each mistake, made in a copy of
// template.yaml, is caught.
func TestFanoutChecksCatchMistakes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, old, new, want string
	}{
		{
			"another function may publish",
			"            - Sid: ReadExistingReport\n",
			"            - Sid: Sms\n              Effect: Allow\n              Action: sns:Publish\n              Resource: \"*\"\n            - Sid: ReadExistingReport\n",
			"IntakeFunction: statement \"Sms\" grants sns:Publish",
		},
		{
			"no partial batch failures",
			"              - ReportBatchItemFailures\n            BisectBatchOnFunctionError: true\n",
			"              - ReportBatchItemFailuresX\n            BisectBatchOnFunctionError: true\n",
			"lack ReportBatchItemFailures",
		},
		{
			"short DLQ retention",
			"MessageRetentionPeriod: 1209600 # 14 days, the most SQS keeps",
			"MessageRetentionPeriod: 345600 # 14 days, the most SQS keeps",
			"must keep messages 14 days",
		},
		{
			"another function may check opt-outs",
			"            - Sid: ReadExistingReport\n",
			"            - Sid: OptOuts\n              Effect: Allow\n              Action: sns:CheckIfPhoneNumberIsOptedOut\n              Resource: \"*\"\n            - Sid: ReadExistingReport\n",
			"IntakeFunction: statement \"OptOuts\" grants sns:CheckIfPhoneNumberIsOptedOut",
		},
		{
			"another function may publish by a wildcard action",
			"            - Sid: ReadExistingReport\n",
			"            - Sid: Sms\n              Effect: Allow\n              Action: SNS:Pub*\n              Resource: !Ref AWS::NoValue\n            - Sid: ReadExistingReport\n",
			"IntakeFunction: statement \"Sms\" grants sns:Publish",
		},
		{
			"another function has the SMS statement on Resource \"*\"",
			"            - Sid: ReadExistingReport\n",
			"            - Sid: Sms\n              Effect: Allow\n              Action:\n                - sns:Publish\n                - sns:CheckIfPhoneNumberIsOptedOut\n              Resource: \"*\"\n            - Sid: ReadExistingReport\n",
			`IntakeFunction: statement "Sms" grants [sns:Publish sns:CheckIfPhoneNumberIsOptedOut] on Resource "*"`,
		},
		{
			"a wildcard resource for more than SMS",
			"                - sns:CheckIfPhoneNumberIsOptedOut\n",
			"                - sns:CheckIfPhoneNumberIsOptedOut\n                - sqs:SendMessage\n",
			`on Resource "*"`,
		},
		{
			"a wildcard action on the SMS resource",
			"                - sns:CheckIfPhoneNumberIsOptedOut\n",
			"                - sns:*\n",
			`FanoutFunction: statement "SendSms" grants [sns:Publish sns:*] on Resource "*"`,
		},
		{
			"no opt-out check",
			"                - sns:CheckIfPhoneNumberIsOptedOut\n",
			"",
			"no statement grants sns:CheckIfPhoneNumberIsOptedOut",
		},
		{
			"no publish",
			"                - sns:Publish\n                - sns:CheckIfPhoneNumberIsOptedOut\n",
			"                - sns:CheckIfPhoneNumberIsOptedOut\n",
			"no statement grants sns:Publish",
		},
		{
			"no stream read",
			"                - dynamodb:GetRecords\n",
			"",
			"no statement grants dynamodb:GetRecords",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			if strings.Count(string(data), c.old) != 1 {
				t.Fatalf("template.yaml has %d copies of %q; update this test's mutation", strings.Count(string(data), c.old), c.old)
			}
			tp := parseTemplate(t, "mutated template.yaml", []byte(strings.Replace(string(data), c.old, c.new, 1)))
			problems := fanoutProblems(tp)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("mutation not caught: want a problem containing %q, got %q", c.want, problems)
			}
		})
	}
}

// digestID is the digest job: no HTTP routes, one schedule, and only the
// reads and the one write its job makes.
const digestID = "DigestFunction"

// digestGrants are the DynamoDB actions the digest job calls, each on the
// one resource it calls it on: the grids and rule sets (district.Settings),
// a grid's reports by the grid index, and the conditional enqueue of a
// digest alert.
var digestGrants = []string{
	"dynamodb:GetItem RulesTable",
	"dynamodb:PutItem AlertsTable",
	"dynamodb:Query ReportsTable/index/byGrid",
	"dynamodb:Scan GridsTable",
}

// resourceName is a DynamoDB resource as "Table" or "Table/index/Name".
func resourceName(r *yaml.Node) string {
	switch r.Tag {
	case "!GetAtt":
		if id, ok := strings.CutSuffix(r.Value, ".Arn"); ok {
			return id
		}
	case "!Sub":
		if m := indexARN.FindStringSubmatch(r.Value); m != nil {
			return m[1] + "/index/" + m[2]
		}
	}
	return r.Tag + " " + r.Value
}

// digestProblems checks what the digest function needs beyond the checks
// every function passes: exactly one schedule and no other trigger, the
// schedule settings as parameters whose defaults the code accepts, and
// exactly the DynamoDB grants its job uses.
func digestProblems(tp template) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	props := tp.resourceProps(digestID)
	if props == nil {
		return []string{digestID + " is not in template.yaml"}
	}

	var schedules []string
	evs := get(props, "Events")
	for i := 0; evs != nil && i+1 < len(evs.Content); i += 2 {
		name, ev := evs.Content[i].Value, evs.Content[i+1]
		typ := get(ev, "Type")
		if typ == nil || typ.Value != "Schedule" {
			kind := "<no Type>"
			if typ != nil {
				kind = typ.Value
			}
			if kind == "HttpApi" || kind == "Api" {
				bad("%s: has an HTTP route %s; the digest job is not an API", digestID, name)
			} else {
				bad("%s: event %s is a %s; the digest job runs on its schedule only", digestID, name, kind)
			}
			continue
		}
		schedules = append(schedules, name)
		sp := get(ev, "Properties")
		if expr := get(sp, "Schedule"); expr == nil || !(strings.HasPrefix(expr.Value, "rate(") || strings.HasPrefix(expr.Value, "cron(")) {
			bad("%s: schedule %s needs a Schedule of rate(...) or cron(...)", digestID, name)
		}
		if en := get(sp, "Enabled"); en != nil && en.Value != "true" {
			bad("%s: schedule %s is not enabled (Enabled: %s)", digestID, name, en.Value)
		}
	}
	if len(schedules) != 1 {
		bad("%s: want exactly one Schedule event, got %d %v", digestID, len(schedules), schedules)
	}

	// The window and quiet hours are stack parameters; their defaults must
	// be what digest.NewSchedule accepts, or the function never starts.
	vars := get(get(props, "Environment"), "Variables")
	defaults := map[string]string{}
	for env, param := range map[string]string{"DIGEST_WINDOW": "DigestWindow", "QUIET_HOURS": "QuietHours"} {
		v := get(vars, env)
		if v == nil || v.Tag != "!Ref" || v.Value != param {
			bad("%s: %s must be !Ref %s", digestID, env, param)
			continue
		}
		def := get(get(get(tp.yaml, "Parameters"), param), "Default")
		if def == nil {
			bad("parameter %s has no Default", param)
			continue
		}
		defaults[param] = def.Value
	}
	if w, q := defaults["DigestWindow"], defaults["QuietHours"]; w != "" {
		window, err := time.ParseDuration(w)
		if err == nil {
			_, err = digest.NewSchedule(window, q)
		}
		if err != nil {
			bad("the defaults DigestWindow %q and QuietHours %q are not a valid digest schedule: %v", w, q, err)
		}
	}

	var grants []string
	for _, doc := range items(get(props, "Policies")) {
		for _, st := range items(get(doc, "Statement")) {
			for _, a := range items(get(st, "Action")) {
				if !strings.HasPrefix(strings.ToLower(a.Value), "dynamodb:") {
					continue
				}
				for _, r := range items(get(st, "Resource")) {
					grants = append(grants, a.Value+" "+resourceName(r))
				}
			}
		}
	}
	slices.Sort(grants)
	if diff := cmp.Diff(digestGrants, grants); diff != "" {
		bad("%s: DynamoDB grants differ from what the digest job calls (-want +template):\n%s", digestID, diff)
	}
	return out
}

// Check 7: the digest function's schedule, parameters and grants.
func TestDigestFunction(t *testing.T) {
	for _, p := range digestProblems(loadTemplate(t)) {
		t.Error(p)
	}
}

// Each mistake in the digest function, made in a copy of template.yaml, is
// caught.
func TestDigestChecksCatchMistakes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const events = "      Events:\n        EveryMinute:\n"
	for _, c := range []struct {
		name, old, new, want string
	}{
		{
			"a second schedule",
			events,
			"      Events:\n        Nightly:\n          Type: Schedule\n          Properties:\n            Schedule: cron(0 23 * * ? *)\n        EveryMinute:\n",
			"want exactly one Schedule event, got 2",
		},
		{
			"no schedule",
			"        EveryMinute:\n          Type: Schedule\n          Properties:\n            # Every minute, so a window's digests go out within a minute of\n            # its start whatever the window.\n            Schedule: rate(1 minute)\n            Description: Queue the grid workers' digests of the current window.\n            Enabled: true\n",
			"        EveryMinute:\n          Type: SQS\n          Properties:\n            Queue: !GetAtt AlertDeadLetterQueue.Arn\n",
			"want exactly one Schedule event, got 0",
		},
		{
			"an HTTP route",
			events,
			"      Events:\n        Run:\n          Type: HttpApi\n          Properties:\n            ApiId: !Ref HttpApi\n            Method: POST\n            Path: /v1/digests\n        EveryMinute:\n",
			"has an HTTP route Run",
		},
		{
			"a disabled schedule",
			"            Description: Queue the grid workers' digests of the current window.\n            Enabled: true\n",
			"            Description: Queue the grid workers' digests of the current window.\n            Enabled: false\n",
			"is not enabled",
		},
		{
			"a write beyond the enqueue",
			"            - Sid: EnqueueDigest\n              Effect: Allow\n              Action: dynamodb:PutItem\n",
			"            - Sid: EnqueueDigest\n              Effect: Allow\n              Action:\n                - dynamodb:PutItem\n                - dynamodb:UpdateItem\n",
			"dynamodb:UpdateItem AlertsTable",
		},
		{
			"quiet hours the code refuses",
			"    Default: \"22-7\"\n",
			"    Default: \"22-24\"\n",
			"not a valid digest schedule",
		},
		{
			"a window the code refuses",
			"    Default: 30m\n",
			"    Default: 7m\n",
			"not a valid digest schedule",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			if strings.Count(string(data), c.old) != 1 {
				t.Fatalf("template.yaml has %d copies of %q; update this test's mutation", strings.Count(string(data), c.old), c.old)
			}
			tp := parseTemplate(t, "mutated template.yaml", []byte(strings.Replace(string(data), c.old, c.new, 1)))
			problems := digestProblems(tp)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("mutation not caught: want a problem containing %q, got %q", c.want, problems)
			}
		})
	}
}
