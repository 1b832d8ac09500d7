package samtemplate

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Least privilege: each function's inline policy allows exactly what its
// code calls (iamcode_test.go reads that from the code), on the resources
// it calls it on, plus what its event sources need; and no secret is in
// the template's plain text.

// resourceless are the actions that have no resource to name: SMS to a
// phone number (Publish without a topic) and the opt-out check. Only they
// may be granted on Resource "*".
var resourceless = map[string]bool{"sns:publish": true, "sns:checkifphonenumberisoptedout": true}

// need is one action on one resource that a function's code calls.
type need struct {
	action   string
	resource string // as resourceKey names template resources
	tx       bool   // an item of a transaction: a grant conditioned on dynamodb:EnclosingOperation serves it
	kmsParam string // kms:Decrypt: the SSM parameter whose key SSM decrypts
	from     string // where the code builds the request
}

// grant is one action on one resource that a statement allows.
type grant struct {
	sid      string
	action   string
	resource string
	txOnly   bool       // conditioned on dynamodb:EnclosingOperation
	cond     *yaml.Node // the statement's Condition
	line     int
}

var (
	subIndex     = regexp.MustCompile(`^\$\{(\w+)\.Arn\}(/index/.*)$`)
	subSSM       = regexp.MustCompile(`^arn:\$\{AWS::Partition\}:ssm:\$\{AWS::Region\}:\$\{AWS::AccountId\}:parameter\$\{(\w+)\}$`)
	subKMS       = regexp.MustCompile(`^arn:\$\{AWS::Partition\}:kms:\$\{AWS::Region\}:\$\{AWS::AccountId\}:key/(.+)$`)
	subS3        = regexp.MustCompile(`^arn:\$\{AWS::Partition\}:s3:::(.+)$`)
	kmsViaSSM    = "ssm.${AWS::Region}.${AWS::URLSuffix}"
	s3ObjectsKey = regexp.MustCompile(`^s3:[^/]+/[^*]+/\*$`) // a prefix's objects, never the whole bucket's
)

// resourceKey names a policy Resource: "ReportsTable" (!GetAtt X.Arn, a
// table or a queue), "ReportsTable/index/byGrid", "AlertsTable/stream",
// "ssm:KeysParameterName" (the parameter's ARN), "kms:key/*",
// "s3:<bucket name>/<prefix>*", "*"; anything else as written.
func resourceKey(n *yaml.Node) string {
	value := n.Value
	if n.Kind == yaml.SequenceNode && len(n.Content) > 0 {
		var parts []string
		for _, c := range n.Content {
			parts = append(parts, c.Value)
		}
		value = strings.Join(parts, ".")
		if n.Tag == "!Sub" {
			value = n.Content[0].Value
		}
	}
	switch n.Tag {
	case "!GetAtt":
		if id, ok := strings.CutSuffix(value, ".Arn"); ok {
			return id
		}
		if id, ok := strings.CutSuffix(value, ".StreamArn"); ok {
			return id + "/stream"
		}
	case "!Sub":
		if m := subIndex.FindStringSubmatch(value); m != nil {
			return m[1] + m[2]
		}
		if m := subSSM.FindStringSubmatch(value); m != nil {
			return "ssm:" + m[1]
		}
		if m := subKMS.FindStringSubmatch(value); m != nil {
			return "kms:key/" + m[1]
		}
		if m := subS3.FindStringSubmatch(value); m != nil {
			return "s3:" + m[1]
		}
	case "!!str":
		if value == "*" {
			return "*"
		}
	}
	return strings.TrimSpace(n.Tag + " " + value)
}

// functionGrants reads a function's inline policy statements.
func functionGrants(tp template, id string) ([]grant, []string) {
	var out []grant
	var problems []string
	for _, doc := range items(get(tp.resourceProps(id), "Policies")) {
		stmts := get(doc, "Statement")
		if doc.Kind != yaml.MappingNode || stmts == nil {
			problems = append(problems, fmt.Sprintf("%s: policy %q (line %d) is not an inline policy with Statement: what a managed policy or a SAM policy template grants cannot be checked against the code", id, doc.Value, doc.Line))
			continue
		}
		for _, s := range items(stmts) {
			sid := valueOr(get(s, "Sid"), fmt.Sprintf("line %d", s.Line))
			if get(s, "NotAction") != nil || get(s, "NotResource") != nil {
				problems = append(problems, fmt.Sprintf("%s: statement %q uses NotAction or NotResource", id, sid))
			}
			if valueOr(get(s, "Effect"), "") != "Allow" {
				continue // a Deny only narrows
			}
			cond := get(s, "Condition")
			txOnly := false
			for _, op := range items(get(get(cond, "StringEquals"), "dynamodb:EnclosingOperation")) {
				txOnly = txOnly || op.Value == "TransactWriteItems" || op.Value == "TransactGetItems"
			}
			resources := items(get(s, "Resource"))
			if len(resources) == 0 {
				problems = append(problems, fmt.Sprintf("%s: statement %q has no Resource", id, sid))
			}
			for _, a := range items(get(s, "Action")) {
				for _, r := range resources {
					out = append(out, grant{sid: sid, action: a.Value, resource: resourceKey(r), txOnly: txOnly, cond: cond, line: a.Line})
				}
			}
		}
	}
	return out, problems
}

// envRef is what a function's env var NAME is set to: the logical id it
// is !Ref to ("" if it is not a !Ref), and whether it is set at all.
func envRef(tp template, id, name string) (string, bool) {
	v := get(get(get(tp.resourceProps(id), "Environment"), "Variables"), name)
	if v == nil {
		v = get(get(get(get(tp.yaml, "Globals"), "Function"), "Environment"), "Variables")
		v = get(v, name)
	}
	if v == nil {
		return "", false
	}
	if v.Tag == "!Ref" {
		return v.Value, true
	}
	if v.Kind == yaml.MappingNode && len(v.Content) == 2 && v.Content[0].Value == "Ref" {
		return v.Content[1].Value, true
	}
	return "", true
}

// resourceType is Resources.<id>.Type ("" if id is not a resource).
func (tp template) resourceType(id string) string {
	return valueOr(get(get(get(tp.yaml, "Resources"), id), "Type"), "")
}

// s3Events are the buckets (by their name as the bucket resource sets it)
// and key prefixes of a function's S3 events.
func s3Events(tp template, id string) map[string][]string {
	out := map[string][]string{}
	for _, ev := range eventsOfType(tp, id, "S3") {
		b := get(ev, "Bucket")
		if b == nil || b.Tag != "!Ref" {
			continue
		}
		name := valueOr(get(get(get(get(tp.yaml, "Resources"), b.Value), "Properties"), "BucketName"), b.Value)
		prefix := ""
		for _, rule := range items(get(get(get(ev, "Filter"), "S3Key"), "Rules")) {
			if strings.EqualFold(valueOr(get(rule, "Name"), ""), "prefix") {
				prefix = valueOr(get(rule, "Value"), "")
			}
		}
		out[name] = append(out[name], prefix)
	}
	return out
}

// needs turns what a function's code calls into actions on template
// resources: a table, queue or parameter named by an env var is the
// resource the template sets that env var to.
func needs(tp template, id string, calls codeCalls) ([]need, []string) {
	var out []need
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	add := func(n need) {
		for _, have := range out {
			if have.action == n.action && have.resource == n.resource && have.tx == n.tx {
				return
			}
		}
		out = append(out, n)
	}
	// byEnv is the template resource an env var names, of the wanted type.
	byEnv := func(s site, field string, wantType string) []string {
		var ids []string
		for _, o := range s.fields[field] {
			if o.kind != "env" {
				bad("%s: %s at %s: %s comes from %s, not from an env var the template sets; the test cannot tell which resource it names", id, s.op, s.pos, field, o)
				continue
			}
			ref, set := envRef(tp, id, o.value)
			switch {
			case !set:
				bad("%s: %s at %s: %s comes from env %s, which template.yaml does not set for the function", id, s.op, s.pos, field, o.value)
			case ref == "":
				bad("%s: env %s (the %s of %s at %s) must be !Ref to a %s", id, o.value, field, s.op, s.pos, wantType)
			case wantType == "Parameter" && get(get(tp.yaml, "Parameters"), ref) == nil,
				wantType != "Parameter" && tp.resourceType(ref) != wantType:
				bad("%s: env %s (the %s of %s at %s) is !Ref %s, which is not a %s", id, o.value, field, s.op, s.pos, ref, wantType)
			default:
				ids = append(ids, ref)
			}
		}
		return ids
	}
	for _, s := range calls.sites {
		if !calls.ops[s.op] {
			continue // built, never sent
		}
		switch s.service() {
		case "dynamodb":
			indexes := []string{""}
			if idx := s.fields["IndexName"]; len(idx) > 0 {
				indexes = nil
				for _, o := range idx {
					if o.kind != "const" {
						bad("%s: %s at %s: IndexName comes from %s, not a constant", id, s.op, s.pos, o)
						continue
					}
					indexes = append(indexes, "/index/"+o.value)
				}
			}
			for _, table := range byEnv(s, "TableName", "AWS::DynamoDB::Table") {
				for _, index := range indexes {
					add(need{action: s.action, resource: table + index, tx: s.tx, from: s.pos})
				}
			}
		case "sqs":
			for _, q := range byEnv(s, "QueueUrl", "AWS::SQS::Queue") {
				add(need{action: s.action, resource: q, from: s.pos})
			}
		case "ssm":
			decrypt := slices.Contains(s.fields["WithDecryption"], origin{"const", "true"})
			for _, p := range byEnv(s, "Name", "Parameter") {
				add(need{action: s.action, resource: "ssm:" + p, from: s.pos})
				if decrypt {
					add(need{action: "kms:Decrypt", resource: "kms:key/*", kmsParam: p, from: s.pos})
				}
			}
		case "sns":
			if len(s.fields["PhoneNumber"]) > 0 || s.action == "sns:CheckIfPhoneNumberIsOptedOut" {
				add(need{action: s.action, resource: "*", from: s.pos})
			}
			for _, topic := range byEnv(s, "TopicArn", "AWS::SNS::Topic") {
				add(need{action: s.action, resource: topic, from: s.pos})
			}
		case "s3":
			// Buckets and keys come from the S3 events (or a message the
			// function queued itself from one): the event's bucket and
			// prefixes, or a constant prefix the code puts before a key.
			events := s3Events(tp, id)
			for _, o := range s.fields["Bucket"] {
				if o.kind != "unknown" {
					bad("%s: %s at %s: the bucket comes from %s; only buckets of the function's S3 events are known to the test", id, s.op, s.pos, o)
				}
			}
			if len(events) == 0 {
				bad("%s: %s at %s: the function has no S3 event, so the test cannot tell which bucket it reads", id, s.op, s.pos)
			}
			for bucket, prefixes := range events {
				for _, o := range s.fields["Key"] {
					switch o.kind {
					case "prefix":
						add(need{action: s.action, resource: "s3:" + bucket + "/" + o.value + "*", from: s.pos})
					case "const":
						add(need{action: s.action, resource: "s3:" + bucket + "/" + o.value, from: s.pos})
					default:
						for _, p := range prefixes {
							add(need{action: s.action, resource: "s3:" + bucket + "/" + p + "*", from: s.pos})
						}
					}
				}
			}
		}
	}
	return out, problems
}

// service is the request's AWS service.
func (r request) service() string { svc, _, _ := strings.Cut(r.op, "."); return svc }

// allowedExtras are what a function may be granted beyond its code's
// calls: what its event sources do with its role (read the stream, send a
// failed batch to the on-failure destination, receive from its queue),
// and s3:ListBucket beside HeadObject (so a missing key answers 404).
func allowedExtras(tp template, id string, ns []need) map[[2]string]bool {
	ok := map[[2]string]bool{}
	evs := get(tp.resourceProps(id), "Events")
	for i := 0; evs != nil && i+1 < len(evs.Content); i += 2 {
		ev := get(evs.Content[i+1], "Properties")
		switch valueOr(get(evs.Content[i+1], "Type"), "") {
		case "DynamoDB":
			if s := get(ev, "Stream"); s != nil {
				for _, a := range []string{"dynamodb:describestream", "dynamodb:getrecords", "dynamodb:getsharditerator", "dynamodb:liststreams"} {
					ok[[2]string{a, resourceKey(s)}] = true
				}
			}
		case "SQS":
			if q := get(ev, "Queue"); q != nil {
				for _, a := range []string{"sqs:receivemessage", "sqs:deletemessage", "sqs:getqueueattributes", "sqs:changemessagevisibility"} {
					ok[[2]string{a, resourceKey(q)}] = true
				}
			}
		}
		if d := get(get(get(ev, "DestinationConfig"), "OnFailure"), "Destination"); d != nil {
			ok[[2]string{"sqs:sendmessage", resourceKey(d)}] = true
		}
	}
	for _, n := range ns {
		if strings.EqualFold(n.action, "s3:GetObject") {
			if bucket, _, found := strings.Cut(n.resource, "/"); found {
				ok[[2]string{"s3:listbucket", bucket}] = true
			}
		}
	}
	return ok
}

// kmsConditionProblem says what a kms:Decrypt grant lacks to be only the
// decryption of param's SecureString by SSM, or "".
func kmsConditionProblem(g grant, param string) string {
	eq := get(g.cond, "StringEquals")
	via := get(eq, "kms:ViaService")
	arn := get(eq, "kms:EncryptionContext:PARAMETER_ARN")
	switch {
	case via == nil || via.Value != kmsViaSSM:
		return fmt.Sprintf("kms:ViaService must be !Sub %s (only SSM may use the key for the function)", kmsViaSSM)
	case arn == nil || resourceKey(arn) != "ssm:"+param:
		return fmt.Sprintf("kms:EncryptionContext:PARAMETER_ARN must be the ARN of parameter %s (only that parameter's value)", param)
	}
	return ""
}

// iamProblems compares each function's policy with what its code calls.
func iamProblems(tp template, code map[string]codeCalls) []string {
	var out []string
	fns := tp.cfn.GetAllServerlessFunctionResources()
	for _, key := range []string{"Policies", "Role"} {
		if get(get(get(tp.yaml, "Globals"), "Function"), key) != nil {
			out = append(out, fmt.Sprintf("Globals.Function.%s grants every function the same: give each function its own inline policy", key))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(fns)) {
		calls, ok := code[id]
		if !ok {
			out = append(out, fmt.Sprintf("%s: no code analysis for it (is functions/%s a main package?)", id, strings.ToLower(strings.TrimSuffix(id, "Function"))))
			continue
		}
		out = append(out, codeProblems(id, calls)...)
		if get(tp.resourceProps(id), "Role") != nil {
			out = append(out, fmt.Sprintf("%s: Role replaces the policies SAM would build from Policies; what that role grants cannot be checked against the code", id))
		}
		ns, problems := needs(tp, id, calls)
		out = append(out, problems...)
		grants, problems := functionGrants(tp, id)
		out = append(out, problems...)
		extras := allowedExtras(tp, id, ns)

		for _, g := range grants {
			action := strings.ToLower(g.action)
			switch {
			case strings.ContainsAny(g.action, "*?"):
				out = append(out, fmt.Sprintf("%s: statement %q grants wildcard action %q (line %d); name each action the code calls", id, g.sid, g.action, g.line))
			case g.resource == "*" && !resourceless[action]:
				out = append(out, fmt.Sprintf(`%s: statement %q grants %s on Resource "*" (line %d); name the resource's ARN`, id, g.sid, g.action, g.line))
			case g.resource == "kms:key/*":
				// The SecureString's key is made outside the stack (or is
				// aws/ssm): any key, but only through SSM and only for the
				// keyset's parameter.
				if arn := get(get(g.cond, "StringEquals"), "kms:EncryptionContext:PARAMETER_ARN"); arn == nil || !strings.HasPrefix(resourceKey(arn), "ssm:") {
					out = append(out, fmt.Sprintf("%s: statement %q grants %s on every key (line %d) without kms:EncryptionContext:PARAMETER_ARN naming an SSM parameter", id, g.sid, g.action, g.line))
				} else if p := kmsConditionProblem(g, strings.TrimPrefix(resourceKey(arn), "ssm:")); p != "" {
					out = append(out, fmt.Sprintf("%s: statement %q grants %s on every key (line %d): %s", id, g.sid, g.action, g.line, p))
				}
			case g.resource != "*" && strings.ContainsAny(g.resource, "*?") && !s3ObjectsKey.MatchString(g.resource):
				out = append(out, fmt.Sprintf("%s: statement %q grants %s on wildcard resource %s (line %d)", id, g.sid, g.action, g.resource, g.line))
			}
		}
		for _, n := range ns {
			var served bool
			var why string
			for _, g := range grants {
				if !strings.EqualFold(g.action, n.action) || g.resource != n.resource {
					continue
				}
				if g.txOnly && !n.tx {
					why = fmt.Sprintf(" (statement %q grants it only inside a transaction)", g.sid)
					continue
				}
				if n.kmsParam != "" {
					if p := kmsConditionProblem(g, n.kmsParam); p != "" {
						why = fmt.Sprintf(" (statement %q: %s)", g.sid, p)
						continue
					}
				}
				served = true
			}
			if !served {
				out = append(out, fmt.Sprintf("%s: its code calls %s on %s (%s), which no statement grants%s", id, n.action, n.resource, n.from, why))
			}
		}
		for _, g := range grants {
			action := strings.ToLower(g.action)
			used := extras[[2]string{action, g.resource}]
			for _, n := range ns {
				used = used || (strings.ToLower(n.action) == action && n.resource == g.resource)
			}
			if !used && !strings.ContainsAny(g.action, "*?") {
				out = append(out, fmt.Sprintf("%s: statement %q grants %s on %s (line %d), which its code never calls", id, g.sid, g.action, g.resource, g.line))
				continue
			}
			// A write the code makes only inside transactions is granted
			// only there: a plain one could break what the transaction
			// keeps together (a report and its alert). ConditionCheckItem
			// exists only in transactions.
			if used && !g.txOnly && action != "dynamodb:conditioncheckitem" && !extras[[2]string{action, g.resource}] &&
				!slices.ContainsFunc(ns, func(n need) bool { return strings.ToLower(n.action) == action && n.resource == g.resource && !n.tx }) {
				out = append(out, fmt.Sprintf("%s: statement %q grants %s on %s (line %d) outside transactions, but its code calls it only inside TransactWriteItems: add Condition StringEquals dynamodb:EnclosingOperation: TransactWriteItems", id, g.sid, g.action, g.resource, g.line))
			}
		}
	}
	return out
}

// knownOps are the operations requests and batchMaps map to IAM.
func knownOps() map[string]bool {
	ops := map[string]bool{}
	for _, r := range requests {
		ops[r.op] = true
	}
	for _, r := range batchMaps {
		ops[r.op] = true
	}
	return ops
}

// codeProblems are what the analysis cannot map: an SDK operation without
// an IAM mapping, or one whose requests it cannot find.
func codeProblems(id string, calls codeCalls) []string {
	var out []string
	known := knownOps()
	for _, op := range slices.Sorted(maps.Keys(calls.ops)) {
		if !known[op] {
			out = append(out, fmt.Sprintf("%s: its code calls %s, which this test cannot map to IAM actions: add its request type to requests in iamcode_test.go", id, op))
			continue
		}
		if !slices.ContainsFunc(calls.sites, func(s site) bool { return s.op == op }) {
			out = append(out, fmt.Sprintf("%s: its code calls %s, but the test finds no request for it whose resource it can read", id, op))
		}
	}
	return out
}

// codeOf analyzes every function of the template.
func codeOf(t *testing.T, p *program, tp template) map[string]codeCalls {
	t.Helper()
	out := map[string]codeCalls{}
	for id := range tp.functions(t) {
		calls, err := p.analyzeMain(filepath.ToSlash(functionDir(t, id)))
		if err != nil {
			t.Fatal(err)
		}
		out[id] = calls
	}
	return out
}

// Check 11: each function's policy grants exactly the actions its code
// calls, on exactly the resources it calls them on.
func TestPoliciesGrantWhatTheCodeCalls(t *testing.T) {
	tp := loadTemplate(t)
	for _, p := range iamProblems(tp, codeOf(t, loadProgram(t), tp)) {
		t.Error(p)
	}
}

var (
	// secretName is a parameter or env var name that suggests it holds a
	// secret rather than says where one is.
	secretName = regexp.MustCompile(`(?i)key|secret|token|pepper|passw|jwt|hmac|private`)
	// keyMaterial is a value that looks like a key: PEM, a JWT, or a long
	// run of base64 or hex (16 bytes or more).
	keyMaterial   = regexp.MustCompile(`-----BEGIN|^eyJ[\w-]+\.|^[A-Za-z0-9+/_-]{24,}={0,2}$`)
	hasDigitAlpha = regexp.MustCompile(`^(?:.*[0-9].*[A-Za-z]|.*[A-Za-z].*[0-9])`)
)

func looksLikeKey(s string) bool {
	s = strings.TrimSpace(s)
	return strings.Contains(s, "-----BEGIN") || strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") >= 1 ||
		keyMaterial.MatchString(s) && hasDigitAlpha.MatchString(s)
}

// scalars calls fn for every scalar under n.
func scalars(n *yaml.Node, fn func(*yaml.Node)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode {
		fn(n)
	}
	for _, c := range n.Content {
		scalars(c, fn)
	}
}

// secretProblems checks that the keyset (HMAC pepper, data key, token key)
// reaches the functions only as the name of an SSM SecureString parameter,
// read with decryption, and that no key is in the template's plain text:
// not in an env var (anyone who may read the function's configuration
// reads those), not as a dynamic reference that CloudFormation resolves
// into one, not as a parameter default, not as a parameter or secret the
// stack creates.
func secretProblems(tp template, code map[string]codeCalls) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	params := get(tp.yaml, "Parameters")

	// What the code reads its keyset by: the env vars whose value is the
	// Name of an ssm.GetParameterInput, and whether it decrypts.
	keyEnv := map[string]map[string]bool{} // function -> env var
	keyParams := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(code)) {
		keyEnv[id] = map[string]bool{}
		for _, s := range code[id].sites {
			if s.op != "ssm.GetParameter" || !code[id].ops[s.op] {
				continue
			}
			if d := s.fields["WithDecryption"]; !slices.Equal(d, []origin{{"const", "true"}}) {
				bad("%s: %s reads an SSM parameter with WithDecryption %v: the keyset is a SecureString, read decrypted, never a plain String parameter", id, s.pos, d)
			}
			for _, o := range s.fields["Name"] {
				if o.kind != "env" {
					continue // needs() reports it
				}
				keyEnv[id][o.value] = true
				if ref, _ := envRef(tp, id, o.value); ref != "" {
					keyParams[ref] = true
				}
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(keyParams)) {
		def := get(params, p)
		if def == nil {
			continue // needs() reports it
		}
		if typ := valueOr(get(def, "Type"), ""); typ != "String" && typ != "AWS::SSM::Parameter::Name" {
			bad("parameter %s names the keyset's SSM parameter: its Type must be String (a name), not %s", p, typ)
		}
		if pat := valueOr(get(def, "AllowedPattern"), ""); !strings.HasPrefix(pat, "^/") {
			bad("parameter %s names the keyset's SSM parameter: its AllowedPattern must only allow a parameter name (^/...), so a key pasted in its place is refused (got %q)", p, pat)
		}
	}

	// Env vars: Globals and every function.
	envs := map[string]*yaml.Node{"Globals": get(get(get(get(tp.yaml, "Globals"), "Function"), "Environment"), "Variables")}
	for id := range tp.cfn.GetAllServerlessFunctionResources() {
		envs[id] = get(get(tp.resourceProps(id), "Environment"), "Variables")
		// A dynamic reference anywhere in a function resolves into its
		// configuration in plain text.
		scalars(tp.resourceProps(id), func(n *yaml.Node) {
			if strings.Contains(n.Value, "{{resolve:") {
				bad("%s: dynamic reference %q (line %d) puts the resolved value in the function's configuration in plain text; pass the parameter's name and read it with ssm:GetParameter", id, n.Value, n.Line)
			}
		})
	}
	for _, id := range slices.Sorted(maps.Keys(envs)) {
		vars := envs[id]
		for i := 0; vars != nil && i+1 < len(vars.Content); i += 2 {
			name, val := vars.Content[i].Value, vars.Content[i+1]
			scalars(val, func(n *yaml.Node) {
				if looksLikeKey(n.Value) {
					bad("%s: env %s holds what looks like key material (line %d); keys come from the SSM parameter", id, name, n.Line)
				}
			})
			if secretName.MatchString(name) && !keyEnv[id][name] {
				bad("%s: env %s is named like a secret, but the code does not read it as an SSM parameter's name; secrets come from the keyset's SSM parameter, never from env", id, name)
			}
		}
	}

	// Parameters: no key as a default; a secret-like one is NoEcho
	// without a default, unless it is the name of the keyset's parameter.
	for i := 0; params != nil && i+1 < len(params.Content); i += 2 {
		name, p := params.Content[i].Value, params.Content[i+1]
		def := get(p, "Default")
		if def != nil && looksLikeKey(def.Value) {
			bad("parameter %s: its Default looks like key material (line %d)", name, def.Line)
		}
		if secretName.MatchString(name) && !keyParams[name] {
			if valueOr(get(p, "NoEcho"), "") != "true" || def != nil {
				bad("parameter %s is named like a secret: it must be NoEcho: true without a Default, or better the name of an SSM SecureString parameter the code reads", name)
			}
		}
	}

	// Resources that would put a secret value in the template.
	resources := get(tp.yaml, "Resources")
	for i := 0; resources != nil && i+1 < len(resources.Content); i += 2 {
		id, r := resources.Content[i].Value, resources.Content[i+1]
		switch valueOr(get(r, "Type"), "") {
		case "AWS::SSM::Parameter":
			bad("%s: an AWS::SSM::Parameter holds its Value in the template in plain text (CloudFormation cannot create a SecureString); create the keyset parameter outside the stack (bin/gridcode keys)", id)
		case "AWS::SecretsManager::Secret":
			if get(get(r, "Properties"), "SecretString") != nil {
				bad("%s: SecretString puts the secret in the template in plain text; use GenerateSecretString or create it outside the stack", id)
			}
		}
	}
	return out
}

// Check 12: no secret in the template's plain text; the keyset comes from
// an SSM SecureString parameter, decrypted through SSM only.
func TestSecretsComeFromSSM(t *testing.T) {
	tp := loadTemplate(t)
	for _, p := range secretProblems(tp, codeOf(t, loadProgram(t), tp)) {
		t.Error(p)
	}
}

// mutation is a mistake made in a copy of template.yaml: old replaced by
// new, at its only copy, or at its first copy after the only copy of after
// (the statements every function shares are alike).
type mutation struct {
	name, after, old, new, want string
}

func (m mutation) apply(t *testing.T, data string) string {
	t.Helper()
	start := 0
	if m.after != "" {
		if n := strings.Count(data, m.after); n != 1 {
			t.Fatalf("template.yaml has %d copies of %q; update this test's mutation", n, m.after)
		}
		start = strings.Index(data, m.after) + len(m.after)
	} else if n := strings.Count(data, m.old); n != 1 {
		t.Fatalf("template.yaml has %d copies of %q; update this test's mutation", n, m.old)
	}
	at := strings.Index(data[start:], m.old)
	if at < 0 {
		t.Fatalf("template.yaml has no %q after %q; update this test's mutation", m.old, m.after)
	}
	at += start
	return data[:at] + m.new + data[at+len(m.old):]
}

// The checks above must be able to fail: each mistake, made in a copy of
// template.yaml, is caught.
func TestLeastPrivilegeChecksCatchMistakes(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data := string(raw)
	code := codeOf(t, loadProgram(t), loadTemplate(t))
	const (
		kmsVia   = "                  kms:ViaService: !Sub ssm.${AWS::Region}.${AWS::URLSuffix}\n"
		keysName = "parameter${KeysParameterName}"
		intake   = "  IntakeFunction:\n"
		stats    = "  StatsFunction:\n"
	)
	for _, m := range []mutation{
		// Actions the code does not call, or does not call there.
		{"an action the code never calls", "", "            - Sid: ReadExistingReport\n              Effect: Allow\n              Action: dynamodb:GetItem\n",
			"            - Sid: ReadExistingReport\n              Effect: Allow\n              Action: [dynamodb:GetItem, dynamodb:UpdateItem]\n",
			`IntakeFunction: statement "ReadExistingReport" grants dynamodb:UpdateItem on ReportsTable`},
		{"dynamodb:*", "            - Sid: CountOpenTasks\n", "              Action: dynamodb:Scan\n", "              Action: dynamodb:*\n",
			`StatsFunction: statement "CountOpenTasks" grants wildcard action "dynamodb:*"`},
		{`Resource "*"`, "            - Sid: ScanReports\n", "              Resource: !GetAtt ReportsTable.Arn\n", "              Resource: \"*\"\n",
			`StatsFunction: statement "ScanReports" grants dynamodb:Scan on Resource "*"`},
		{"every index", "", "              Resource: !Sub ${TasksTable.Arn}/index/byOpenReason\n", "              Resource: !Sub ${TasksTable.Arn}/index/*\n",
			`StatsFunction: statement "CountOpenTasks" grants dynamodb:Scan on wildcard resource TasksTable/index/*`},
		{"the table instead of its index", "            - Sid: CountAlerts\n", "              Resource: !Sub ${AlertsTable.Arn}/index/byStatus\n", "              Resource: !GetAtt AlertsTable.Arn\n",
			`StatsFunction: its code calls dynamodb:Query on AlertsTable/index/byStatus`},
		{"a plain write where the code only writes in a transaction", "            - Sid: ReportAndAlertInOneTransaction\n",
			"              Condition:\n                StringEquals:\n                  dynamodb:EnclosingOperation: TransactWriteItems\n", "",
			`IntakeFunction: statement "ReportAndAlertInOneTransaction" grants dynamodb:PutItem on ReportsTable (line`},
		{"another queue", "            - Sid: ContinueImport\n", "              Resource: !GetAtt ImportQueue.Arn\n", "              Resource: !GetAtt RefreshQueue.Arn\n",
			`RegistryImportFunction: statement "ContinueImport" grants sqs:SendMessage on RefreshQueue`},
		{"the whole bucket", "            - Sid: ErrorFiles\n", "-uploads-${AWS::AccountId}/errors/*\n", "-uploads-${AWS::AccountId}/*\n",
			`RegistryImportFunction: statement "ErrorFiles" grants s3:GetObject on wildcard resource s3:${AWS::StackName}-uploads-${AWS::AccountId}/*`},
		{"every SSM parameter", stats, keysName + "\n            - Sid: DecryptKeysetViaSSM\n", "parameter/*\n            - Sid: DecryptKeysetViaSSM\n",
			`StatsFunction: statement "ReadKeyset" grants ssm:GetParameter on wildcard resource`},
		{"a role of its own", stats, "      Policies:\n", "      Role: arn:aws:iam::123456789012:role/gridcode-stats\n      Policies:\n",
			"StatsFunction: Role replaces the policies"},
		{"policies for every function", "", "    Tracing: Active\n", "    Tracing: Active\n    Policies:\n      - AWSLambdaBasicExecutionRole\n",
			"Globals.Function.Policies grants every function the same"},
		{"another table's stream", "            - Sid: ReadAlertStream\n", "              Resource: !GetAtt AlertsTable.StreamArn\n", "              Resource: !GetAtt ReportsTable.StreamArn\n",
			`FanoutFunction: statement "ReadAlertStream" grants dynamodb:GetRecords on ReportsTable/stream`},
		{"a managed policy", stats, "      Policies:\n", "      Policies:\n        - AmazonDynamoDBReadOnlyAccess\n",
			`StatsFunction: policy "AmazonDynamoDBReadOnlyAccess" (line`},
		// Actions the code calls that are not granted.
		{"a missing grant", "", "            - Sid: CountAlerts\n              Effect: Allow\n              Action: dynamodb:Query\n              Resource: !Sub ${AlertsTable.Arn}/index/byStatus\n", "",
			"StatsFunction: its code calls dynamodb:Query on AlertsTable/index/byStatus (shared/store/dynamo/stats.go"},
		{"a plain write granted only in transactions", "", "            - Sid: TakeSendSlot\n              Effect: Allow\n              Action: dynamodb:UpdateItem\n              Resource: !GetAtt SendBudgetTable.Arn\n",
			"            - Sid: TakeSendSlot\n              Effect: Allow\n              Action: dynamodb:UpdateItem\n              Resource: !GetAtt SendBudgetTable.Arn\n              Condition:\n                StringEquals:\n                  dynamodb:EnclosingOperation: TransactWriteItems\n",
			`FanoutFunction: its code calls dynamodb:UpdateItem on SendBudgetTable (shared/ratelimit/shared.go`},
		// The keyset's key.
		{"kms:Decrypt by anyone but SSM", intake, kmsVia, "",
			"IntakeFunction: its code calls kms:Decrypt on kms:key/* (shared/secrets/keyset.go"},
		{"kms:Decrypt of any parameter", intake, "kms:EncryptionContext:PARAMETER_ARN: !Sub arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:" + keysName, "kms:EncryptionContext:PARAMETER_ARN: !Sub arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/*",
			"kms:EncryptionContext:PARAMETER_ARN must be the ARN of parameter KeysParameterName"},
		{"kms:Decrypt of every key", intake, "              Resource: !Sub arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*\n", "              Resource: \"*\"\n",
			`IntakeFunction: statement "DecryptKeysetViaSSM" grants kms:Decrypt on Resource "*"`},
	} {
		t.Run(m.name, func(t *testing.T) {
			tp := parseTemplate(t, "mutated template.yaml", []byte(m.apply(t, data)))
			problems := iamProblems(tp, code)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, m.want) }) {
				t.Errorf("mutation not caught: want a problem containing %q, got %q", m.want, problems)
			}
		})
	}
}

// Each way a secret could end up in the template's plain text, made in a
// copy of template.yaml, is caught.
func TestSecretChecksCatchMistakes(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data := string(raw)
	code := codeOf(t, loadProgram(t), loadTemplate(t))
	const (
		intake   = "  IntakeFunction:\n"
		keysEnv  = "          KEYS_PARAMETER: !Ref KeysParameterName\n"
		keysDesc = "      SSM SecureString parameter holding the keyset JSON"
	)
	for _, m := range []mutation{
		{"a token key in an env var", intake, keysEnv, keysEnv + "          TOKEN_KEY: c2VjcmV0LXRva2VuLWtleS0xMjM0NTY3ODkw\n",
			"IntakeFunction: env TOKEN_KEY holds what looks like key material"},
		{"a secret-named env var", intake, keysEnv, keysEnv + "          JWT_SIGNING: !Ref KeysParameterName\n",
			"IntakeFunction: env JWT_SIGNING is named like a secret"},
		{"the keyset resolved into the configuration", intake, keysEnv, "          KEYS_PARAMETER: \"{{resolve:ssm-secure:/gridcode/keys:1}}\"\n",
			"IntakeFunction: dynamic reference"},
		{"a pepper as a parameter", "", "  SmsPerSecond:\n", "  HmacPepper:\n    Type: String\n    Default: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b\n  SmsPerSecond:\n",
			"parameter HmacPepper: its Default looks like key material"},
		{"a secret parameter that echoes", "", "  SmsPerSecond:\n", "  TokenSigningKey:\n    Type: String\n  SmsPerSecond:\n",
			"parameter TokenSigningKey is named like a secret: it must be NoEcho: true"},
		{"the keyset's parameter takes any value", "", "    AllowedPattern: \"^/[A-Za-z0-9_./-]+$\"\n    Description: >-\n" + keysDesc,
			"    Description: >-\n" + keysDesc, "parameter KeysParameterName names the keyset's SSM parameter: its AllowedPattern"},
		{"a key as the parameter's default", "", "    Default: /gridcode/keys\n", "    Default: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n",
			"parameter KeysParameterName: its Default looks like key material"},
		{"the keyset in the stack", "", "  HttpApi:\n    Type: AWS::Serverless::HttpApi\n",
			"  Keyset:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Type: String\n      Value: '{\"pepper\":\"x\"}'\n  HttpApi:\n    Type: AWS::Serverless::HttpApi\n",
			"Keyset: an AWS::SSM::Parameter holds its Value in the template in plain text"},
	} {
		t.Run(m.name, func(t *testing.T) {
			tp := parseTemplate(t, "mutated template.yaml", []byte(m.apply(t, data)))
			problems := secretProblems(tp, code)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, m.want) }) {
				t.Errorf("mutation not caught: want a problem containing %q, got %q", m.want, problems)
			}
		})
	}
}

// caught fails t unless problems has one containing want and base (the
// problems before the mistake) has none.
func caught(t *testing.T, base, problems []string, want string) {
	t.Helper()
	has := func(ps []string) bool {
		return slices.ContainsFunc(ps, func(p string) bool { return strings.Contains(p, want) })
	}
	if has(base) {
		t.Errorf("the unchanged repository already has a problem containing %q: the mutation proves nothing", want)
	}
	if !has(problems) {
		t.Errorf("mutation not caught: want a problem containing %q, got %q", want, problems)
	}
}

// The policy check follows the code, not a list: mistakes made in copies
// of source files (a go/packages overlay, nothing on disk changes) show up
// against the unchanged template.
func TestLeastPrivilegeFollowsTheCode(t *testing.T) {
	tp := loadTemplate(t)
	baseCode := codeOf(t, loadProgram(t), tp)
	base := append(iamProblems(tp, baseCode), secretProblems(tp, baseCode)...)
	root := mustAbs(repoRoot)
	overlay := map[string][]byte{}
	edit := func(rel, old, new string) {
		t.Helper()
		path := filepath.Join(root, rel)
		data, ok := overlay[path]
		if !ok {
			var err error
			if data, err = os.ReadFile(path); err != nil {
				t.Fatal(err)
			}
		}
		if n := strings.Count(string(data), old); n != 1 {
			t.Fatalf("%s has %d copies of %q; update this test's mutation", rel, n, old)
		}
		overlay[path] = []byte(strings.Replace(string(data), old, new, 1))
	}
	const store = "shared/store/dynamo/store.go"
	edit(store, "type API interface {\n", "type API interface {\n"+
		"\tDeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)\n"+
		"\tDescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)\n")
	// Reading a report deletes one.
	edit(store, "func (s *Store) Get(ctx context.Context, id string) (report.Record, error) {\n",
		"func (s *Store) Get(ctx context.Context, id string) (report.Record, error) {\n"+
			"\t_, _ = s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.tables.Reports)})\n")
	// Listing grids describes the table: an operation without a mapping.
	edit(store, "func (s *Store) ListGrids(ctx context.Context) ([]grid.Grid, error) {\n",
		"func (s *Store) ListGrids(ctx context.Context) ([]grid.Grid, error) {\n"+
			"\t_, _ = s.api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.tables.Grids)})\n")
	// The rules' table name is computed: the test cannot tell which it is.
	edit(store, "TableName:      aws.String(s.tables.Rules),", "TableName:      aws.String(fmt.Sprint(s.tables.Rules)),")
	// The keyset is read without decryption.
	edit("shared/secrets/keyset.go", "WithDecryption: aws.Bool(true)", "WithDecryption: aws.Bool(false)")

	p, err := loadProgram(t).withOverlay(overlay)
	if err != nil {
		t.Fatal(err)
	}
	code := codeOf(t, p, tp)
	problems := append(iamProblems(tp, code), secretProblems(tp, code)...)
	for _, want := range []string{
		"ReportsFunction: its code calls dynamodb:DeleteItem on ReportsTable (shared/store/dynamo/store.go:",
		"IntakeFunction: its code calls dynamodb:DeleteItem on ReportsTable",
		"DirectoryFunction: its code calls dynamodb.DescribeTable, which this test cannot map to IAM actions",
		"TableName comes from unknown result of fmt.Sprint",
		`StatsFunction: statement "DecryptKeysetViaSSM" grants kms:Decrypt on kms:key/*`,
		"reads an SSM parameter with WithDecryption [const false]",
	} {
		caught(t, base, problems, want)
	}
}

// The analysis sees what the code does, through helpers, interfaces,
// struct fields and closures (a few facts, not the source of truth: the
// policies are checked against all of it).
func TestCodeAnalysisSeesKnownCalls(t *testing.T) {
	p := loadProgram(t)
	for _, c := range []struct {
		dir, op, action, field string
		from                   origin
	}{
		// store.Create's transaction, through report.Store.
		{"functions/intake", "dynamodb.TransactWriteItems", "dynamodb:PutItem", "TableName", origin{"env", "REPORTS_TABLE"}},
		{"functions/intake", "dynamodb.TransactWriteItems", "dynamodb:PutItem", "TableName", origin{"env", "ALERTS_TABLE"}},
		// ratelimit.NewShared's parameter, kept in a struct field.
		{"functions/fanout", "dynamodb.UpdateItem", "dynamodb:UpdateItem", "TableName", origin{"env", "SEND_BUDGET_TABLE"}},
		// The keyset, loaded in lambdaapp.Init from cfg.Common.Keys.
		{"functions/fanout", "ssm.GetParameter", "ssm:GetParameter", "Name", origin{"env", "KEYS_PARAMETER"}},
		{"functions/refreshplan", "sqs.SendMessageBatch", "sqs:SendMessage", "QueueUrl", origin{"env", "REFRESH_QUEUE_URL"}},
		// A paginator's Scan of an index.
		{"functions/stats", "dynamodb.Scan", "dynamodb:Scan", "IndexName", origin{"const", "byOpenReason"}},
		// A batch write's table, a parameter of the helper's closure.
		{"functions/registryimport", "dynamodb.BatchWriteItem", "dynamodb:BatchWriteItem", "TableName", origin{"env", "REGISTRY_INDEX_TABLE"}},
		{"functions/registryimport", "s3.PutObject", "s3:PutObject", "Key", origin{"prefix", "errors/"}},
	} {
		calls, err := p.analyzeMain(c.dir)
		if err != nil {
			t.Fatal(err)
		}
		if !calls.ops[c.op] || !slices.ContainsFunc(calls.sites, func(s site) bool {
			return s.op == c.op && s.action == c.action && slices.Contains(s.fields[c.field], c.from)
		}) {
			t.Errorf("%s: the analysis does not see %s (%s) with %s from %s", c.dir, c.op, c.action, c.field, c.from)
		}
	}
	// Precision: *dynamo.Store implements report.Store, but the reports
	// function never creates a report, and the pages call nothing.
	for dir, op := range map[string]string{"functions/reports": "dynamodb.TransactWriteItems", "functions/web": ""} {
		calls, err := p.analyzeMain(dir)
		if err != nil {
			t.Fatal(err)
		}
		if op == "" && len(calls.ops) > 0 || op != "" && calls.ops[op] {
			t.Errorf("%s: the analysis has it call %v", dir, slices.Sorted(maps.Keys(calls.ops)))
		}
	}
}
