package samtemplate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The registry import: S3 starts it for files under registry/ and lists
// under lists/ in the uploads bucket, its own queue continues it, and its
// S3 rights are the ones it needs to read uploads, see a missing key as
// missing, and write the error file.
const (
	importID      = "RegistryImportFunction"
	importQueueID = "ImportQueue"
	uploadsID     = "UploadsBucket"
	uploadsARN    = "arn:${AWS::Partition}:s3:::${AWS::StackName}-uploads-${AWS::AccountId}"
)

// s3Grants maps each S3 action of a function's policies to the resources
// it is granted on; conditional grants are listed under "action?".
func s3Grants(tp template, id string) map[string][]string {
	grants := map[string][]string{}
	for _, doc := range items(get(tp.resourceProps(id), "Policies")) {
		for _, st := range items(get(doc, "Statement")) {
			action := items(get(st, "Action"))
			if len(action) == 0 {
				action = []*yaml.Node{get(st, "Action")}
			}
			for _, a := range action {
				if a == nil || !strings.HasPrefix(a.Value, "s3:") {
					continue
				}
				key := a.Value
				if get(st, "Condition") != nil {
					key += "?"
				}
				res := items(get(st, "Resource"))
				if len(res) == 0 {
					res = []*yaml.Node{get(st, "Resource")}
				}
				for _, r := range res {
					if r != nil {
						grants[key] = append(grants[key], r.Value)
					}
				}
			}
		}
	}
	return grants
}

func importProblems(tp template) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	uploads := get(get(get(tp.yaml, "Resources"), uploadsID), "Properties")
	if name := get(uploads, "BucketName"); name == nil || "arn:${AWS::Partition}:s3:::"+name.Value != uploadsARN {
		bad("%s: BucketName must be the name the policies grant on (%s)", uploadsID, uploadsARN)
	}
	if get(uploads, "BucketEncryption") == nil {
		bad("%s: no BucketEncryption (uploads hold personal data)", uploadsID)
	}
	if pab := get(uploads, "PublicAccessBlockConfiguration"); pab == nil || valueOr(get(pab, "BlockPublicAcls"), "") != "true" || valueOr(get(pab, "RestrictPublicBuckets"), "") != "true" {
		bad("%s: public access must be blocked", uploadsID)
	}
	expires := false
	for _, r := range items(get(get(uploads, "LifecycleConfiguration"), "Rules")) {
		expires = expires || get(r, "ExpirationInDays") != nil
	}
	if !expires {
		bad("%s: no lifecycle rule expires uploads", uploadsID)
	}

	s3events := eventsOfType(tp, importID, "S3")
	var prefixes []string
	for name, ev := range s3events {
		if b := get(ev, "Bucket"); b == nil || b.Tag != "!Ref" || b.Value != uploadsID {
			bad("%s: event %s: Bucket must be !Ref %s", importID, name, uploadsID)
		}
		prefix := ""
		for _, r := range items(get(get(get(ev, "Filter"), "S3Key"), "Rules")) {
			if valueOr(get(r, "Name"), "") == "prefix" {
				prefix = valueOr(get(r, "Value"), "")
			}
		}
		if prefix != "registry/" && prefix != "lists/" {
			bad("%s: event %s: the S3 key filter must be prefix registry/ or lists/, got %q", importID, name, prefix)
		}
		prefixes = append(prefixes, prefix)
	}
	if slices.Sort(prefixes); !slices.Equal(prefixes, []string{"lists/", "registry/"}) {
		bad("%s: want one S3 event for registry/ and one for lists/, got prefixes %q", importID, prefixes)
	}
	// The function queues its own continuations.
	out = append(out, queueWorkerProblems(tp, importID, importQueueID)...)
	out = append(out, queueSenderProblems(tp, importQueueID, "continuations", importID)...)

	grants := s3Grants(tp, importID)
	want := []struct{ action, resource string }{
		{"s3:GetObject", uploadsARN + "/registry/*"},
		{"s3:GetObject", uploadsARN + "/lists/*"},
		{"s3:ListBucket", uploadsARN},
		{"s3:PutObject", uploadsARN + "/errors/*"},
	}
	for _, w := range want {
		if !slices.Contains(grants[w.action], w.resource) {
			bad("%s: %s must be granted on %s without a condition (got %v)", importID, w.action, w.resource, grants[w.action])
		}
	}
	for action, res := range grants {
		for _, r := range res {
			if !strings.HasPrefix(r, uploadsARN) || strings.HasSuffix(r, "/*") && !strings.HasSuffix(r, "/registry/*") && !strings.HasSuffix(r, "/lists/*") && !strings.HasSuffix(r, "/errors/*") {
				bad("%s: %s granted on %s, outside registry/, lists/ and errors/ of the uploads bucket", importID, action, r)
			}
		}
	}
	return out
}

// Check 9: the registry import's trigger, queue and S3 rights fit together.
func TestRegistryImportFunction(t *testing.T) {
	for _, p := range importProblems(loadTemplate(t)) {
		t.Error(p)
	}
}

// Each mistake in the registry import, made in a copy of template.yaml, is caught.
func TestRegistryImportChecksCatchMistakes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	listBucket := "              Action: s3:ListBucket\n              Resource: !Sub arn:${AWS::Partition}:s3:::${AWS::StackName}-uploads-${AWS::AccountId}\n"
	for _, c := range []struct{ name, old, new, want string }{
		{"ListBucket only under errors/", listBucket, listBucket + "              Condition:\n                StringLike:\n                  s3:prefix: errors/*\n", "s3:ListBucket must be granted"},
		{"whole bucket readable", "Action: s3:GetObject\n              Resource: !Sub arn:${AWS::Partition}:s3:::${AWS::StackName}-uploads-${AWS::AccountId}/registry/*", "Action: s3:GetObject\n              Resource: !Sub arn:${AWS::Partition}:s3:::${AWS::StackName}-uploads-${AWS::AccountId}/*", "outside registry/, lists/ and errors/"},
		{"every upload imported", "                  - Name: prefix\n                    Value: registry/\n", "                  - Name: prefix\n                    Value: \"\"\n", "must be prefix registry/ or lists/"},
		{"lists not uploaded", "                  - Name: prefix\n                    Value: lists/\n", "                  - Name: prefix\n                    Value: registry/\n", "one S3 event for registry/ and one for lists/"},
		{"lists unreadable", "              Resource: !Sub arn:${AWS::Partition}:s3:::${AWS::StackName}-uploads-${AWS::AccountId}/lists/*\n", "              Resource: !Sub arn:${AWS::Partition}:s3:::${AWS::StackName}-uploads-${AWS::AccountId}/errors/*\n", "s3:GetObject must be granted on arn:${AWS::Partition}:s3:::${AWS::StackName}-uploads-${AWS::AccountId}/lists/*"},
		{"no encryption", "      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n          - ServerSideEncryptionByDefault:\n              SSEAlgorithm: aws:kms\n            BucketKeyEnabled: true\n", "", "no BucketEncryption"},
		{"kept forever", "            ExpirationInDays: !Ref UploadExpiryDays\n", "", "no lifecycle rule expires"},
		{"continuations sent elsewhere", "            - Sid: ContinueImport\n              Effect: Allow\n              Action: sqs:SendMessage\n              Resource: !GetAtt ImportQueue.Arn\n", "            - Sid: ContinueImport\n              Effect: Allow\n              Action: sqs:SendMessage\n              Resource: !GetAtt RefreshQueue.Arn\n", "not !GetAtt ImportQueue.Arn"},
		{"short visibility", "  ImportQueue:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: 5400\n", "  ImportQueue:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: 900\n", "less than six times"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if strings.Count(string(data), c.old) != 1 {
				t.Fatalf("template.yaml has %d copies of %q; update this test's mutation", strings.Count(string(data), c.old), c.old)
			}
			tp := parseTemplate(t, "mutated template.yaml", []byte(strings.Replace(string(data), c.old, c.new, 1)))
			problems := importProblems(tp)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("mutation not caught: want a problem containing %q, got %q", c.want, problems)
			}
		})
	}
}
