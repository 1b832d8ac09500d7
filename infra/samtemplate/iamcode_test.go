package samtemplate

// What each function's code calls on AWS, read from the code: the
// program is loaded with go/packages (this module from source, its
// dependencies from export data), built as SSA, and walked from each
// functions/<name> main. The requests the reachable code builds
// (dynamodb.GetItemInput{TableName: ...}, types.Put in a transaction, the
// RequestItems map of a batch, sqs.SendMessageBatchInput{QueueUrl: ...},
// ...) say which action it needs on what; where a table, queue or
// parameter name comes from is traced back through the SSA values to the
// env tag of the config field that holds it (REPORTS_TABLE), which
// template.yaml sets to !Ref <resource>.

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/types/typeutil"
)

const (
	modulePath = "gridcode"
	sdkService = "github.com/aws/aws-sdk-go-v2/service/"
	sdkAWS     = "github.com/aws/aws-sdk-go-v2/aws"
	sdkFeature = "github.com/aws/aws-sdk-go-v2/feature/"
)

// transparentFeatures are SDK helper packages that call no service.
var transparentFeatures = map[string]bool{"dynamodb/attributevalue": true, "dynamodb/expression": true}

// request is an SDK request type the code builds: the operation whose
// call sends it (service.Op, the client method), the IAM action that
// operation needs on each resource the request names (resourceFields), and
// whether it is an item of a transaction (IAM then checks the item-level
// action with dynamodb:EnclosingOperation set).
//
// The mapping, operation -> IAM action, is AWS's (Service Authorization
// Reference): each DynamoDB item, query and batch operation is authorized
// as the action of its own name; TransactWriteItems is authorized per
// item as PutItem, UpdateItem, DeleteItem or ConditionCheckItem on the
// item's table, TransactGetItems as GetItem; a paginator sends its
// operation; SendMessageBatch is authorized as sqs:SendMessage; S3's
// HeadObject needs s3:GetObject (and s3:ListBucket on the bucket to tell a
// missing key, 404, from a forbidden one, 403: allowed, not required);
// GetParameter WithDecryption needs kms:Decrypt of the parameter's key,
// which SSM asks for on the caller's behalf.
type request struct {
	op     string // service.Operation, the client method that sends it
	action string
	tx     bool
}

// requests are keyed by package path and type name.
var requests = map[string]request{
	sdkService + "dynamodb.GetItemInput":    {op: "dynamodb.GetItem", action: "dynamodb:GetItem"},
	sdkService + "dynamodb.PutItemInput":    {op: "dynamodb.PutItem", action: "dynamodb:PutItem"},
	sdkService + "dynamodb.UpdateItemInput": {op: "dynamodb.UpdateItem", action: "dynamodb:UpdateItem"},
	sdkService + "dynamodb.DeleteItemInput": {op: "dynamodb.DeleteItem", action: "dynamodb:DeleteItem"},
	sdkService + "dynamodb.QueryInput":      {op: "dynamodb.Query", action: "dynamodb:Query"},
	sdkService + "dynamodb.ScanInput":       {op: "dynamodb.Scan", action: "dynamodb:Scan"},
	// Items of TransactWriteItems / TransactGetItems.
	sdkService + "dynamodb/types.Put":            {op: "dynamodb.TransactWriteItems", action: "dynamodb:PutItem", tx: true},
	sdkService + "dynamodb/types.Update":         {op: "dynamodb.TransactWriteItems", action: "dynamodb:UpdateItem", tx: true},
	sdkService + "dynamodb/types.Delete":         {op: "dynamodb.TransactWriteItems", action: "dynamodb:DeleteItem", tx: true},
	sdkService + "dynamodb/types.ConditionCheck": {op: "dynamodb.TransactWriteItems", action: "dynamodb:ConditionCheckItem", tx: true},
	sdkService + "dynamodb/types.Get":            {op: "dynamodb.TransactGetItems", action: "dynamodb:GetItem", tx: true},

	sdkService + "sqs.SendMessageInput":      {op: "sqs.SendMessage", action: "sqs:SendMessage"},
	sdkService + "sqs.SendMessageBatchInput": {op: "sqs.SendMessageBatch", action: "sqs:SendMessage"},

	sdkService + "ssm.GetParameterInput": {op: "ssm.GetParameter", action: "ssm:GetParameter"},

	sdkService + "s3.GetObjectInput":  {op: "s3.GetObject", action: "s3:GetObject"},
	sdkService + "s3.HeadObjectInput": {op: "s3.HeadObject", action: "s3:GetObject"},
	sdkService + "s3.PutObjectInput":  {op: "s3.PutObject", action: "s3:PutObject"},

	sdkService + "sns.PublishInput":                      {op: "sns.Publish", action: "sns:Publish"},
	sdkService + "sns.CheckIfPhoneNumberIsOptedOutInput": {op: "sns.CheckIfPhoneNumberIsOptedOut", action: "sns:CheckIfPhoneNumberIsOptedOut"},
}

// batchMaps are the RequestItems maps of the batch operations, keyed by
// table name, by the map's element type.
var batchMaps = map[string]request{
	"[]" + sdkService + "dynamodb/types.WriteRequest": {op: "dynamodb.BatchWriteItem", action: "dynamodb:BatchWriteItem"},
	sdkService + "dynamodb/types.KeysAndAttributes":   {op: "dynamodb.BatchGetItem", action: "dynamodb:BatchGetItem"},
}

// resourceFields are, by service, the request fields that name what a
// request acts on, the first of them the one every request of the service
// sets (ssm's WithDecryption adds kms:Decrypt). A request that does not set
// the first is a copy of one that did (in := *update; in.Key = ...).
var resourceFields = map[string][]string{
	"dynamodb": {"TableName", "IndexName"},
	"sqs":      {"QueueUrl"},
	"ssm":      {"Name", "WithDecryption"},
	"s3":       {"Bucket", "Key"},
	"sns":      {"PhoneNumber", "TopicArn", "TargetArn"},
}

// origin is where a string the code sends comes from: the env var of a
// config field, a constant, a constant prefix of a longer string, or
// something the analysis cannot name (an event's field, a computed value).
type origin struct {
	kind  string // "env", "const", "prefix", "unknown"
	value string
}

func (o origin) String() string { return o.kind + " " + o.value }

// site is one request the reachable code builds, with the origins of the
// fields that name its resources.
type site struct {
	request
	pos    string
	fields map[string][]origin // TableName, IndexName, QueueUrl, Name, Bucket, Key, PhoneNumber, TopicArn, WithDecryption
}

// codeCalls is what one function's code calls.
type codeCalls struct {
	ops   map[string]bool // service.Operation of every SDK call reachable from main
	sites []site
}

// program is the module loaded and built once for every test.
type program struct {
	prog  *ssa.Program
	mains map[string]*ssa.Package // by directory, functions/intake
	// external interfaces with methods, by the name of their first
	// method: external code calls the module's methods through these.
	external map[string][]*types.Interface
	pkgs     []*packages.Package // as loaded, for withOverlay
}

var (
	loadOnce   sync.Once
	loadedProg *program
	loadErr    error
)

// loadProgram loads the module as it is on disk (shared by the tests).
func loadProgram(t *testing.T) *program {
	t.Helper()
	loadOnce.Do(func() { loadedProg, loadErr = buildProgram() })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loadedProg
}

// srcPackage is one package of the module, type-checked from source.
type srcPackage struct {
	types *types.Package
	files []*ast.File
	info  *types.Info
}

// buildProgram loads functions/... and shared/... (the module from source,
// its dependencies from export data) and builds SSA.
func buildProgram() (*program, error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedImports |
			packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo | packages.NeedTypesSizes,
		// Without the Makefile's -tags lambda.norpc, which changes only how
		// aws-lambda-go talks to the runtime: go list then reuses what
		// go build and go vet compiled.
		Dir: mustAbs(repoRoot),
	}
	pkgs, err := packages.Load(cfg, modulePath+"/functions/...", modulePath+"/shared/...")
	if err != nil {
		return nil, fmt.Errorf("load the module: %w", err)
	}
	var errs []string
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			errs = append(errs, e.Error())
		}
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("load the module: %s", strings.Join(errs, "\n"))
	}
	var src []srcPackage
	for _, pkg := range pkgs {
		src = append(src, srcPackage{pkg.Types, pkg.Syntax, pkg.TypesInfo})
	}
	p := newProgram(pkgs[0].Fset, src)
	p.pkgs = pkgs
	return p, nil
}

// withOverlay is the program again with the files of overlay (absolute
// path -> contents) in place of those on disk: the module's packages are
// type-checked again from source, the dependencies' types are reused (no
// go list, no compiling).
func (p *program) withOverlay(overlay map[string][]byte) (*program, error) {
	fset := token.NewFileSet()
	deps := map[string]*types.Package{}
	var collect func(*types.Package)
	collect = func(tp *types.Package) {
		for _, imp := range tp.Imports() {
			if _, ok := deps[imp.Path()]; !ok && !inModule(imp) {
				deps[imp.Path()] = imp
				collect(imp)
			}
		}
	}
	var order []*packages.Package // dependencies first
	packages.Visit(p.pkgs, nil, func(pkg *packages.Package) {
		if pkg.Types != nil && inModule(pkg.Types) {
			order = append(order, pkg)
			collect(pkg.Types)
		}
	})
	checked := map[string]*types.Package{}
	var src []srcPackage
	for _, pkg := range order {
		var files []*ast.File
		for _, name := range pkg.CompiledGoFiles {
			data, ok := overlay[name]
			if !ok {
				var err error
				if data, err = os.ReadFile(name); err != nil {
					return nil, err
				}
			}
			f, err := parser.ParseFile(fset, name, data, parser.ParseComments|parser.SkipObjectResolution)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
		info := &types.Info{
			Types: map[ast.Expr]types.TypeAndValue{}, Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{},
			Implicits: map[ast.Node]types.Object{}, Instances: map[*ast.Ident]types.Instance{}, Scopes: map[ast.Node]*types.Scope{},
			Selections: map[*ast.SelectorExpr]*types.Selection{}, FileVersions: map[*ast.File]string{},
		}
		conf := types.Config{
			Sizes:     pkg.TypesSizes,
			GoVersion: pkg.TypesInfo.FileVersions[pkg.Syntax[0]],
			Importer: importerFunc(func(path string) (*types.Package, error) {
				if tp, ok := checked[path]; ok {
					return tp, nil
				}
				if tp, ok := deps[path]; ok {
					return tp, nil
				}
				return nil, fmt.Errorf("%s imports %s, which the first load did not", pkg.PkgPath, path)
			}),
		}
		tp, err := conf.Check(pkg.PkgPath, fset, files, info)
		if err != nil {
			return nil, fmt.Errorf("type-check %s: %w", pkg.PkgPath, err)
		}
		checked[pkg.PkgPath] = tp
		src = append(src, srcPackage{tp, files, info})
	}
	q := newProgram(fset, src)
	q.pkgs = p.pkgs
	return q, nil
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// newProgram builds SSA for the module's packages (with bodies) and their
// dependencies (without).
func newProgram(fset *token.FileSet, src []srcPackage) *program {
	prog := ssa.NewProgram(fset, ssa.InstantiateGenerics)
	p := &program{prog: prog, mains: map[string]*ssa.Package{}, external: map[string][]*types.Interface{}}
	created := map[*types.Package]bool{}
	for _, pkg := range src {
		sp := prog.CreatePackage(pkg.types, pkg.files, pkg.info, true)
		created[pkg.types] = true
		if rel, ok := strings.CutPrefix(pkg.types.Path(), modulePath+"/"); ok && pkg.types.Name() == "main" && strings.HasPrefix(rel, "functions/") {
			p.mains[rel] = sp
		}
	}
	// The dependencies, from their export data: functions without bodies.
	var createDeps func(*types.Package)
	createDeps = func(tp *types.Package) {
		for _, imp := range tp.Imports() {
			if !created[imp] {
				created[imp] = true
				prog.CreatePackage(imp, nil, nil, true)
				createDeps(imp)
			}
		}
	}
	for _, pkg := range src {
		createDeps(pkg.types)
	}
	prog.Build()

	addExternal := func(iface *types.Interface) {
		if iface.NumMethods() == 0 {
			return
		}
		name := iface.Method(0).Name()
		p.external[name] = append(p.external[name], iface)
	}
	addExternal(types.Universe.Lookup("error").Type().Underlying().(*types.Interface))
	for tp := range created {
		if inModule(tp) {
			continue
		}
		scope := tp.Scope()
		for _, name := range scope.Names() {
			tn, ok := scope.Lookup(name).(*types.TypeName)
			if !ok || tn.IsAlias() {
				continue
			}
			if named, ok := tn.Type().(*types.Named); ok && named.TypeParams() != nil {
				continue
			}
			if iface, ok := tn.Type().Underlying().(*types.Interface); ok {
				addExternal(iface)
			}
		}
	}
	return p
}

func inModule(tp *types.Package) bool {
	return tp != nil && (tp.Path() == modulePath || strings.HasPrefix(tp.Path(), modulePath+"/"))
}

// reach is the part of the program reachable from one main: a rapid type
// analysis of the module's code. A call through an interface reaches the
// method of each type converted to that interface in reachable code; a
// function used as a value (a handler given to lambda.Start or a mux, a
// closure given to a worker pool) is reachable, as is a method of a module
// type through which external code may call back (an interface declared
// outside the module: http.Handler, error). Unlike x/tools' rta, exported
// methods of converted types are not assumed called by reflection: that
// would make every method of *dynamo.Store reachable from every function.
type reach struct {
	p         *program
	funcs     map[*ssa.Function]bool
	queue     []*ssa.Function
	runtime   typeutil.Map // concrete types converted to interfaces
	invokes   []ssa.CallInstruction
	dynamic   []ssa.CallInstruction
	addrTaken []*ssa.Function
	escaped   map[*ssa.Function]bool // address-taken, or a method external code may call
	callers   map[*ssa.Function][]ssa.CallInstruction
	callees   map[ssa.CallInstruction][]*ssa.Function
	closures  map[*ssa.Function][]*ssa.MakeClosure
	// stores, by field, by the base address and field, and by cell (an
	// Alloc or Global); the values stored in reachable code.
	fieldStores map[*types.Var][]ssa.Value
	baseStores  map[baseField][]ssa.Value
	cellStores  map[ssa.Value][]ssa.Value
}

type baseField struct {
	base  ssa.Value
	field int
}

func newReach(p *program, roots ...*ssa.Function) *reach {
	r := &reach{
		p: p, funcs: map[*ssa.Function]bool{}, escaped: map[*ssa.Function]bool{},
		callers: map[*ssa.Function][]ssa.CallInstruction{}, callees: map[ssa.CallInstruction][]*ssa.Function{},
		closures:    map[*ssa.Function][]*ssa.MakeClosure{},
		fieldStores: map[*types.Var][]ssa.Value{}, baseStores: map[baseField][]ssa.Value{}, cellStores: map[ssa.Value][]ssa.Value{},
	}
	for _, f := range roots {
		r.add(f)
	}
	for len(r.queue) > 0 {
		f := r.queue[0]
		r.queue = r.queue[1:]
		r.visit(f)
	}
	return r
}

func (r *reach) add(f *ssa.Function) {
	if f != nil && !r.funcs[f] {
		r.funcs[f] = true
		r.queue = append(r.queue, f)
	}
}

func (r *reach) edge(site ssa.CallInstruction, f *ssa.Function) {
	if f == nil || slices.Contains(r.callees[site], f) {
		return
	}
	r.callees[site] = append(r.callees[site], f)
	r.callers[f] = append(r.callers[f], site)
	r.add(f)
}

// method is T's method that implements m, or nil.
func (r *reach) method(T types.Type, m *types.Func) *ssa.Function {
	sel := r.p.prog.MethodSets.MethodSet(T).Lookup(m.Pkg(), m.Name())
	if sel == nil {
		return nil
	}
	return r.p.prog.MethodValue(sel)
}

func (r *reach) addrTake(f *ssa.Function) {
	if r.escaped[f] {
		return
	}
	r.escaped[f] = true
	r.addrTaken = append(r.addrTaken, f)
	r.add(f)
	for _, site := range r.dynamic {
		if types.Identical(site.Common().Signature(), f.Signature) {
			r.edge(site, f)
		}
	}
}

func (r *reach) addRuntimeType(T types.Type) {
	if types.IsInterface(T) || r.runtime.At(T) != nil {
		return
	}
	r.runtime.Set(T, true)
	for _, site := range r.invokes {
		c := site.Common()
		if types.Implements(T, c.Value.Type().Underlying().(*types.Interface)) {
			r.edge(site, r.method(T, c.Method))
		}
	}
	// External code calls a module type back only through interfaces it
	// declares.
	named := T
	if ptr, ok := T.(*types.Pointer); ok {
		named = ptr.Elem()
	}
	n, ok := types.Unalias(named).(*types.Named)
	if !ok || !inModule(n.Obj().Pkg()) {
		return
	}
	mset := r.p.prog.MethodSets.MethodSet(T)
	for sel := range mset.Methods() {
		for _, iface := range r.p.external[sel.Obj().Name()] {
			if !types.Implements(T, iface) {
				continue
			}
			for m := range iface.Methods() {
				if f := r.method(T, m); f != nil && !r.escaped[f] {
					r.escaped[f] = true
					r.add(f)
				}
			}
		}
	}
}

func (r *reach) visit(f *ssa.Function) {
	var rands []*ssa.Value
	for _, b := range f.Blocks {
		for _, instr := range b.Instrs {
			var callee *ssa.Value
			if call, ok := instr.(ssa.CallInstruction); ok {
				c := call.Common()
				callee = &c.Value
				switch {
				case c.IsInvoke():
					r.invokes = append(r.invokes, call)
					iface := c.Value.Type().Underlying().(*types.Interface)
					r.runtime.Iterate(func(T types.Type, _ any) {
						if types.Implements(T, iface) {
							r.edge(call, r.method(T, c.Method))
						}
					})
				case c.StaticCallee() != nil:
					r.edge(call, c.StaticCallee())
				default:
					r.dynamic = append(r.dynamic, call)
					for _, g := range r.addrTaken {
						if types.Identical(c.Signature(), g.Signature) {
							r.edge(call, g)
						}
					}
				}
			}
			switch instr := instr.(type) {
			case *ssa.MakeInterface:
				r.addRuntimeType(instr.X.Type())
			case *ssa.MakeClosure:
				fn := instr.Fn.(*ssa.Function)
				r.closures[fn] = append(r.closures[fn], instr)
			case *ssa.Store:
				switch addr := instr.Addr.(type) {
				case *ssa.FieldAddr:
					if v := fieldVar(addr.X.Type(), addr.Field); v != nil {
						r.fieldStores[v] = append(r.fieldStores[v], instr.Val)
					}
					k := baseField{addr.X, addr.Field}
					r.baseStores[k] = append(r.baseStores[k], instr.Val)
				default:
					r.cellStores[addr] = append(r.cellStores[addr], instr.Val)
				}
			}
			rands = instr.Operands(rands[:0])
			for _, v := range rands {
				if v == callee {
					continue // a static call's callee is not a value
				}
				if g, ok := (*v).(*ssa.Function); ok {
					r.addrTake(g)
				}
			}
		}
	}
}

// fieldVar is field i of the struct that ptr (a pointer) or the struct
// value points at, or nil.
func fieldVar(typ types.Type, i int) *types.Var {
	if ptr, ok := typ.Underlying().(*types.Pointer); ok {
		typ = ptr.Elem()
	}
	st, ok := typ.Underlying().(*types.Struct)
	if !ok || i >= st.NumFields() {
		return nil
	}
	return st.Field(i)
}

// envTag is the env var a config field is read from, or "".
func envTag(typ types.Type, i int) string {
	if ptr, ok := typ.Underlying().(*types.Pointer); ok {
		typ = ptr.Elem()
	}
	st, ok := typ.Underlying().(*types.Struct)
	if !ok || i >= st.NumFields() {
		return ""
	}
	env, _ := reflect.StructTag(st.Tag(i)).Lookup("env")
	name, _, _ := strings.Cut(env, ",")
	return strings.TrimSpace(name)
}

// typeKey names a type as requests and batchMaps do.
func typeKey(t types.Type) string {
	switch t := types.Unalias(t).(type) {
	case *types.Named:
		if t.Obj().Pkg() == nil {
			return t.Obj().Name()
		}
		return t.Obj().Pkg().Path() + "." + t.Obj().Name()
	case *types.Slice:
		return "[]" + typeKey(t.Elem())
	case *types.Pointer:
		return "*" + typeKey(t.Elem())
	}
	return t.String()
}

// analyzeMain is what the function at dir (functions/intake) calls.
func (p *program) analyzeMain(dir string) (codeCalls, error) {
	mainPkg := p.mains[dir]
	if mainPkg == nil {
		return codeCalls{}, fmt.Errorf("%s: no main package", dir)
	}
	r := newReach(p, mainPkg.Func("main"), mainPkg.Func("init"))
	calls := codeCalls{ops: map[string]bool{}}

	// The SDK operations called: client methods, and paginators (which
	// call their operation).
	for f := range r.funcs {
		if f.Blocks != nil || f.Pkg == nil {
			continue
		}
		path := f.Pkg.Pkg.Path()
		if feature, ok := strings.CutPrefix(path, sdkFeature); ok && !transparentFeatures[feature] {
			// A helper that calls the service itself (s3 manager's
			// uploads): its calls are not visible here.
			calls.ops[path+"."+f.Name()] = true
			continue
		}
		svc, ok := strings.CutPrefix(path, sdkService)
		if !ok || strings.Contains(svc, "/") {
			continue
		}
		if recv := f.Signature.Recv(); recv != nil {
			if typeKey(recv.Type()) == "*"+path+".Client" {
				calls.ops[svc+"."+f.Name()] = true
			}
		} else if op, ok := strings.CutPrefix(f.Name(), "New"); ok && strings.HasSuffix(op, "Paginator") {
			calls.ops[svc+"."+strings.TrimSuffix(op, "Paginator")] = true
		} else if ok && strings.HasSuffix(op, "Waiter") {
			calls.ops[svc+"."+op] = true // a waiter: which operation it polls is not mapped
		}
	}

	// The requests built in reachable code, in a stable order.
	funcs := make([]*ssa.Function, 0, len(r.funcs))
	for f := range r.funcs {
		if f.Blocks != nil {
			funcs = append(funcs, f)
		}
	}
	sort.Slice(funcs, func(i, j int) bool { return funcs[i].String() < funcs[j].String() })
	fset := p.prog.Fset
	where := func(pos token.Pos, f *ssa.Function) string {
		at := fset.Position(pos)
		if rel, err := filepath.Rel(mustAbs(repoRoot), at.Filename); err == nil {
			at.Filename = rel
		}
		return fmt.Sprintf("%s (%s)", at, f.Name())
	}
	for _, f := range funcs {
		bases := map[ssa.Value]*site{}
		var order []ssa.Value
		for _, b := range f.Blocks {
			for _, instr := range b.Instrs {
				switch instr := instr.(type) {
				case *ssa.Store:
					addr, ok := instr.Addr.(*ssa.FieldAddr)
					if !ok {
						continue
					}
					typ := addr.X.Type().Underlying().(*types.Pointer).Elem()
					req, ok := requests[typeKey(typ)]
					if !ok {
						continue
					}
					s := bases[addr.X]
					if s == nil {
						s = &site{request: req, pos: where(instr.Pos(), f), fields: map[string][]origin{}}
						bases[addr.X] = s
						order = append(order, addr.X)
					}
					name := fieldVar(addr.X.Type(), addr.Field).Name()
					if !slices.Contains(resourceFields[req.service()], name) {
						continue
					}
					s.fields[name] = append(s.fields[name], r.resolve(instr.Val)...)
				case *ssa.MapUpdate:
					m, ok := instr.Map.Type().Underlying().(*types.Map)
					if !ok {
						continue
					}
					req, ok := batchMaps[typeKey(m.Elem())]
					if !ok {
						continue
					}
					calls.sites = append(calls.sites, site{request: req, pos: where(instr.Pos(), f),
						fields: map[string][]origin{"TableName": r.resolve(instr.Key)}})
				}
			}
		}
		for _, base := range order {
			s := bases[base]
			fields := resourceFields[s.service()]
			if s.service() == "sns" || len(fields) > 0 && len(s.fields[fields[0]]) > 0 {
				calls.sites = append(calls.sites, *s)
			}
		}
	}
	return calls, nil
}

func mustAbs(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		panic(err)
	}
	return abs
}

// resolve is where the string (or *string) v comes from.
func (r *reach) resolve(v ssa.Value) []origin {
	seen := map[ssa.Value]bool{}
	var out []origin
	r.origins(v, seen, func(o origin) {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	})
	return out
}

func describe(v ssa.Value) string {
	if f := v.Parent(); f != nil {
		return fmt.Sprintf("%s in %s", v.String(), f.Name())
	}
	return v.String()
}

func (r *reach) origins(v ssa.Value, seen map[ssa.Value]bool, emit func(origin)) {
	if v == nil || seen[v] {
		return
	}
	seen[v] = true
	unknown := func(why string) { emit(origin{"unknown", why}) }
	switch v := v.(type) {
	case *ssa.Const:
		if v.Value == nil {
			return // nil: the field is not set
		}
		if v.Value.Kind() == constant.String {
			emit(origin{"const", constant.StringVal(v.Value)})
		} else {
			emit(origin{"const", v.Value.ExactString()})
		}
	case *ssa.Call:
		c := v.Common()
		if f := c.StaticCallee(); f != nil && f.Pkg != nil && f.Pkg.Pkg.Path() == sdkAWS && (f.Name() == "String" || f.Name() == "ToString" || f.Name() == "Bool") {
			r.origins(c.Args[0], seen, emit)
			return
		}
		r.returns(v, 0, seen, emit, unknown)
	case *ssa.Extract:
		call, ok := v.Tuple.(*ssa.Call)
		if !ok {
			unknown(describe(v))
			return
		}
		r.returns(call, v.Index, seen, emit, unknown)
	case *ssa.Phi:
		for _, e := range v.Edges {
			r.origins(e, seen, emit)
		}
	case *ssa.ChangeType:
		r.origins(v.X, seen, emit)
	case *ssa.Convert:
		r.origins(v.X, seen, emit)
	case *ssa.MakeInterface:
		r.origins(v.X, seen, emit)
	case *ssa.TypeAssert:
		r.origins(v.X, seen, emit)
	case *ssa.BinOp:
		if v.Op != token.ADD {
			unknown(describe(v))
			return
		}
		// A concatenation: what it starts with.
		r.origins(v.X, seen, func(o origin) {
			switch o.kind {
			case "const", "prefix":
				emit(origin{"prefix", o.value})
			default:
				unknown("a string computed from " + o.String())
			}
		})
	case *ssa.Field:
		if env := envTag(v.X.Type(), v.Field); env != "" {
			emit(origin{"env", env})
			return
		}
		r.stored(r.fieldStores[fieldVar(v.X.Type(), v.Field)], "field "+fieldVar(v.X.Type(), v.Field).Name(), seen, emit, unknown)
	case *ssa.UnOp:
		if v.Op != token.MUL {
			unknown(describe(v))
			return
		}
		r.load(v.X, seen, emit, unknown)
	case *ssa.Parameter:
		fn := v.Parent()
		i := slices.Index(fn.Params, v)
		for _, site := range r.callers[fn] {
			c := site.Common()
			switch {
			case c.IsInvoke() && i == 0:
				r.origins(c.Value, seen, emit)
			case c.IsInvoke():
				r.origins(c.Args[i-1], seen, emit)
			case i < len(c.Args):
				r.origins(c.Args[i], seen, emit)
			}
		}
		if len(r.callers[fn]) == 0 {
			unknown(fmt.Sprintf("parameter %s of %s, called from outside the module", v.Name(), fn.Name()))
		}
	case *ssa.FreeVar:
		fn := v.Parent()
		i := slices.Index(fn.FreeVars, v)
		for _, mc := range r.closures[fn] {
			r.origins(mc.Bindings[i], seen, emit)
		}
	default:
		unknown(describe(v))
	}
}

// returns is result i of the functions call may call.
func (r *reach) returns(call *ssa.Call, i int, seen map[ssa.Value]bool, emit func(origin), unknown func(string)) {
	callees := r.callees[call]
	if len(callees) == 0 {
		unknown("result of " + call.Common().Description() + " " + call.Common().Value.Name())
	}
	for _, f := range callees {
		if f.Blocks == nil {
			unknown("result of " + f.String())
			continue
		}
		for _, b := range f.Blocks {
			if ret, ok := b.Instrs[len(b.Instrs)-1].(*ssa.Return); ok && i < len(ret.Results) {
				r.origins(ret.Results[i], seen, emit)
			}
		}
	}
}

// load is what may be read from addr.
func (r *reach) load(addr ssa.Value, seen map[ssa.Value]bool, emit func(origin), unknown func(string)) {
	switch a := addr.(type) {
	case *ssa.FieldAddr:
		if env := envTag(a.X.Type(), a.Field); env != "" {
			emit(origin{"env", env})
			return
		}
		field := fieldVar(a.X.Type(), a.Field)
		// A struct this function allocates: what it stores there.
		if _, local := a.X.(*ssa.Alloc); local {
			if vals := r.baseStores[baseField{a.X, a.Field}]; len(vals) > 0 {
				for _, val := range vals {
					r.origins(val, seen, emit)
				}
				return
			}
		}
		r.stored(r.fieldStores[field], "field "+field.Name(), seen, emit, unknown)
	case *ssa.Alloc, *ssa.Global:
		r.stored(r.cellStores[a], describe(a), seen, emit, unknown)
	case *ssa.FreeVar:
		fn := a.Parent()
		i := slices.Index(fn.FreeVars, a)
		for _, mc := range r.closures[fn] {
			r.load(mc.Bindings[i], seen, emit, unknown)
		}
	case *ssa.Phi:
		for _, e := range a.Edges {
			r.load(e, seen, emit, unknown)
		}
	case *ssa.Call:
		// A pointer made by aws.String and the like: what it points at.
		r.origins(a, seen, emit)
	default:
		unknown("load from " + describe(addr))
	}
}

// stored is the origins of values stored somewhere; none means nothing
// in reachable code stores there (an event's field, filled by JSON).
func (r *reach) stored(vals []ssa.Value, what string, seen map[ssa.Value]bool, emit func(origin), unknown func(string)) {
	if len(vals) == 0 {
		unknown(what + ", never set by the module's reachable code")
	}
	for _, val := range vals {
		r.origins(val, seen, emit)
	}
}
