package control

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Cluster statuses.
const (
	StatusActive   = "ACTIVE"
	StatusInactive = "INACTIVE"
)

// DefaultClusterName is the cluster a request without one means.
const DefaultClusterName = "default"

// The capacity providers fargo owns: every cluster may use them.
const (
	CapacityProviderFargate     = "FARGATE"
	CapacityProviderFargateSpot = "FARGATE_SPOT"
)

var nameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// Cluster is an ECS cluster. Its task and service counts are derived, not
// stored.
type Cluster struct {
	Name                            string                         `json:"name"`
	ARN                             string                         `json:"arn"`
	Status                          string                         `json:"status"`
	CapacityProviders               []string                       `json:"capacityProviders,omitempty"`
	DefaultCapacityProviderStrategy []CapacityProviderStrategyItem `json:"defaultCapacityProviderStrategy,omitempty"`
	Settings                        []ClusterSetting               `json:"settings,omitempty"`
	Configuration                   *ClusterConfiguration          `json:"configuration,omitempty"`
	ServiceConnectNamespace         string                         `json:"serviceConnectNamespace,omitempty"`
	Tags                            []Tag                          `json:"tags,omitempty"`
	CreatedAt                       time.Time                      `json:"createdAt"`
	DeletedAt                       time.Time                      `json:"deletedAt,omitzero"`
}

// ClusterCounts are the live counts a cluster reports.
type ClusterCounts struct {
	RegisteredContainerInstances int
	RunningTasks                 int
	PendingTasks                 int
	ActiveServices               int
	// Statistics are the per-launch-type counts of include=STATISTICS.
	Statistics []KeyValue
}

// CapacityProviderStrategyItem is one entry of a capacity provider strategy.
type CapacityProviderStrategyItem struct {
	CapacityProvider string `json:"capacityProvider"`
	Weight           int32  `json:"weight"`
	Base             int32  `json:"base"`
}

// ClusterSetting is a cluster setting such as containerInsights.
type ClusterSetting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ClusterConfiguration is the cluster's execute-command and managed-storage
// configuration, kept as given.
type ClusterConfiguration struct {
	ExecuteCommand *ExecuteCommandConfiguration `json:"executeCommand,omitempty"`
	ManagedStorage *ManagedStorageConfiguration `json:"managedStorage,omitempty"`
}

// ExecuteCommandConfiguration configures ECS Exec for a cluster.
type ExecuteCommandConfiguration struct {
	KmsKeyID string                          `json:"kmsKeyId,omitempty"`
	Logging  string                          `json:"logging,omitempty"`
	Log      *ExecuteCommandLogConfiguration `json:"log,omitempty"`
}

// ExecuteCommandLogConfiguration says where ECS Exec sessions are logged.
type ExecuteCommandLogConfiguration struct {
	CloudWatchLogGroupName      string `json:"cloudWatchLogGroupName,omitempty"`
	CloudWatchEncryptionEnabled bool   `json:"cloudWatchEncryptionEnabled,omitempty"`
	S3BucketName                string `json:"s3BucketName,omitempty"`
	S3EncryptionEnabled         bool   `json:"s3EncryptionEnabled,omitempty"`
	S3KeyPrefix                 string `json:"s3KeyPrefix,omitempty"`
}

// ManagedStorageConfiguration names the KMS keys of managed storage.
type ManagedStorageConfiguration struct {
	KmsKeyID                        string `json:"kmsKeyId,omitempty"`
	FargateEphemeralStorageKmsKeyID string `json:"fargateEphemeralStorageKmsKeyId,omitempty"`
}

// ClusterSpec is what CreateCluster asks for.
type ClusterSpec struct {
	Name                            string
	Tags                            []Tag
	Settings                        []ClusterSetting
	Configuration                   *ClusterConfiguration
	CapacityProviders               []string
	DefaultCapacityProviderStrategy []CapacityProviderStrategyItem
	ServiceConnectNamespace         string
}

// ClusterUpdate is what UpdateCluster and UpdateClusterSettings change; nil
// fields are left alone.
type ClusterUpdate struct {
	Settings                []ClusterSetting
	Configuration           *ClusterConfiguration
	ServiceConnectNamespace *string
}

func clusterKey(s tenant.Scope, name string) string { return keyPrefix(s) + "clusters/" + name }

func clusterARN(s tenant.Scope, name string) string { return s.ARN("ecs", "cluster/"+name) }

// ClusterName resolves a cluster reference (a name or an ARN, empty meaning
// "default") to a name in scope s.
func ClusterName(s tenant.Scope, ref string) (string, error) {
	if ref == "" {
		return DefaultClusterName, nil
	}
	if strings.HasPrefix(ref, "arn:") {
		res, err := parseARN(s, ref)
		if err != nil || res.kind != "cluster" {
			return "", ErrClusterNotFound
		}
		return res.id, nil
	}
	if !nameRe.MatchString(ref) {
		return "", ErrClusterNotFound
	}
	return ref, nil
}

// ensureDefault creates the scope's default cluster the first time the
// scope is used, as AWS has one in every account and region.
func (c *Control) ensureDefault(ctx context.Context, s tenant.Scope) error {
	if _, ok := c.seeded.Load(s); ok {
		return nil
	}
	_, err := c.st.Update(ctx, func(tx store.Tx) error {
		key := clusterKey(s, DefaultClusterName)
		if _, err := tx.Get(key); err == nil {
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return put(tx, key, &Cluster{
			Name: DefaultClusterName, ARN: clusterARN(s, DefaultClusterName), Status: StatusActive,
			CreatedAt: c.now().UTC(),
		})
	})
	if err != nil {
		return err
	}
	c.seeded.Store(s, struct{}{})
	return nil
}

func validateCapacityProviders(providers []string, strategy []CapacityProviderStrategyItem) error {
	seen := map[string]bool{}
	for _, p := range providers {
		if p != CapacityProviderFargate && p != CapacityProviderFargateSpot {
			return InvalidParameterf("The specified capacity provider %s does not exist. Specify a valid capacity provider and try again.", p)
		}
		if seen[p] {
			return InvalidParameterf("The specified capacity providers contain duplicates. Specify unique capacity providers and try again.")
		}
		seen[p] = true
	}
	return validateStrategy(strategy, func(p string) bool { return seen[p] })
}

// validateStrategy checks a capacity provider strategy; known reports
// whether a provider may be used.
func validateStrategy(strategy []CapacityProviderStrategyItem, known func(string) bool) error {
	if len(strategy) == 0 {
		return nil
	}
	if len(strategy) > 20 {
		return InvalidParameterf("The capacity provider strategy cannot contain more than 20 capacity providers.")
	}
	bases, weight := 0, int32(0)
	seen := map[string]bool{}
	for _, it := range strategy {
		if !known(it.CapacityProvider) {
			return InvalidParameterf("The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.")
		}
		if seen[it.CapacityProvider] {
			return InvalidParameterf("The specified capacity provider strategy contains duplicates. Specify unique capacity providers and try again.")
		}
		seen[it.CapacityProvider] = true
		if it.Weight < 0 || it.Weight > 1000 {
			return InvalidParameterf("The specified capacity provider strategy weight must be between 0 and 1000.")
		}
		if it.Base < 0 || it.Base > 100000 {
			return InvalidParameterf("The specified capacity provider strategy base must be between 0 and 100000.")
		}
		if it.Base > 0 {
			bases++
		}
		weight += it.Weight
	}
	if bases > 1 {
		return InvalidParameterf("You can only specify a base for one capacity provider in a capacity provider strategy.")
	}
	if weight == 0 {
		return InvalidParameterf("At least one capacity provider in a capacity provider strategy must have a weight greater than zero.")
	}
	return nil
}

func validateSettings(settings []ClusterSetting) error {
	for _, st := range settings {
		if st.Name != "containerInsights" {
			return InvalidParameterf("Invalid cluster setting name %q. Valid names are: containerInsights.", st.Name)
		}
		switch st.Value {
		case "enabled", "disabled", "enhanced":
		default:
			return InvalidParameterf("Invalid value %q for cluster setting containerInsights. Valid values are: enabled, disabled, enhanced.", st.Value)
		}
	}
	return nil
}

// CreateCluster creates a cluster, or returns the existing ACTIVE one of
// that name unchanged (CreateCluster is idempotent by name).
func (c *Control) CreateCluster(ctx context.Context, s tenant.Scope, spec ClusterSpec) (*Cluster, error) {
	if spec.Name == "" {
		spec.Name = DefaultClusterName
	}
	if !nameRe.MatchString(spec.Name) {
		return nil, InvalidParameterf("Cluster name can only contain letters, numbers, underscores, and hyphens, and must be from 1 to 255 characters long.")
	}
	if err := ValidateTags(spec.Tags); err != nil {
		return nil, err
	}
	if err := validateSettings(spec.Settings); err != nil {
		return nil, err
	}
	if err := validateCapacityProviders(spec.CapacityProviders, spec.DefaultCapacityProviderStrategy); err != nil {
		return nil, err
	}
	var out *Cluster
	_, err := c.st.Update(ctx, func(tx store.Tx) error {
		key := clusterKey(s, spec.Name)
		cur, err := get[Cluster](tx, key)
		switch {
		case err == nil && cur.Status == StatusActive:
			out = cur
			return nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		out = &Cluster{
			Name: spec.Name, ARN: clusterARN(s, spec.Name), Status: StatusActive,
			CapacityProviders:               spec.CapacityProviders,
			DefaultCapacityProviderStrategy: spec.DefaultCapacityProviderStrategy,
			Settings:                        spec.Settings,
			Configuration:                   spec.Configuration,
			ServiceConnectNamespace:         spec.ServiceConnectNamespace,
			Tags:                            spec.Tags,
			CreatedAt:                       c.now().UTC(),
		}
		return put(tx, key, out)
	})
	if err != nil {
		return nil, err
	}
	if spec.Name == DefaultClusterName {
		c.seeded.Store(s, struct{}{})
	}
	return out, nil
}

// GetCluster returns a cluster by reference, ACTIVE or INACTIVE.
func (c *Control) GetCluster(ctx context.Context, s tenant.Scope, ref string) (*Cluster, error) {
	name, err := ClusterName(s, ref)
	if err != nil {
		return nil, err
	}
	if err := c.ensureDefault(ctx, s); err != nil {
		return nil, err
	}
	kv, err := c.st.Get(ctx, clusterKey(s, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrClusterNotFound
	}
	if err != nil {
		return nil, err
	}
	return decode[Cluster](kv)
}

// ActiveCluster returns a cluster that must be ACTIVE: List* and the task
// and service operations refuse missing and INACTIVE clusters alike.
func (c *Control) ActiveCluster(ctx context.Context, s tenant.Scope, ref string) (*Cluster, error) {
	cl, err := c.GetCluster(ctx, s, ref)
	if err != nil {
		return nil, err
	}
	if cl.Status != StatusActive {
		return nil, ErrClusterNotFound
	}
	return cl, nil
}

// Counts returns the live counts of a cluster, derived from its tasks.
func (c *Control) Counts(ctx context.Context, s tenant.Scope, cl *Cluster) ClusterCounts {
	running, pending, err := c.countTasks(ctx, s, cl.Name)
	if err != nil {
		c.log.Warn("count tasks", "cluster", cl.Name, "err", err)
	}
	var active, draining, instances int
	if err := c.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		if active, draining, err = activeServiceCount(tx, s, cl.Name); err != nil {
			return err
		}
		nodes, err := tx.List(nodesPrefix)
		instances = len(nodes) // every node is a container instance of every cluster
		return err
	}); err != nil {
		c.log.Warn("count services", "cluster", cl.Name, "err", err)
	}
	n := func(v int) string { return strconv.Itoa(v) }
	return ClusterCounts{
		RunningTasks: running, PendingTasks: pending, ActiveServices: active, RegisteredContainerInstances: instances,
		Statistics: []KeyValue{
			{Name: "runningEC2TasksCount", Value: "0"},
			{Name: "runningFargateTasksCount", Value: n(running)},
			{Name: "pendingEC2TasksCount", Value: "0"},
			{Name: "pendingFargateTasksCount", Value: n(pending)},
			{Name: "activeEC2ServiceCount", Value: "0"},
			{Name: "activeFargateServiceCount", Value: n(active)},
			{Name: "drainingEC2ServiceCount", Value: "0"},
			{Name: "drainingFargateServiceCount", Value: n(draining)},
		},
	}
}

// DescribeClusters returns the clusters named (default: "default") and the
// references it could not find.
func (c *Control) DescribeClusters(ctx context.Context, s tenant.Scope, refs []string) ([]*Cluster, []Failure, error) {
	if len(refs) == 0 {
		refs = []string{DefaultClusterName}
	}
	if len(refs) > 100 {
		return nil, nil, InvalidParameterf("Clusters cannot have more than 100 elements")
	}
	if err := c.ensureDefault(ctx, s); err != nil {
		return nil, nil, err
	}
	var out []*Cluster
	var failures []Failure
	err := c.st.View(ctx, func(tx store.ReadTx) error {
		for _, ref := range refs {
			name, err := ClusterName(s, ref)
			if err != nil {
				failures = append(failures, Failure{ARN: missingARN(s, "cluster", ref), Reason: "MISSING"})
				continue
			}
			cl, err := get[Cluster](tx, clusterKey(s, name))
			if errors.Is(err, store.ErrNotFound) {
				failures = append(failures, Failure{ARN: missingARN(s, "cluster", ref), Reason: "MISSING"})
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, cl)
		}
		return nil
	})
	return out, failures, err
}

// Failure is a reference an operation could not act on.
type Failure struct {
	ARN    string
	Reason string
	Detail string
}

// missingARN is the ARN AWS reports for a reference it could not find: the
// reference itself when it is an ARN, else the ARN it would have.
func missingARN(s tenant.Scope, kind, ref string) string {
	if strings.HasPrefix(ref, "arn:") {
		return ref
	}
	return s.ARN("ecs", kind+"/"+ref)
}

// ListClusters returns the ARNs of the ACTIVE clusters, a page at a time.
func (c *Control) ListClusters(ctx context.Context, s tenant.Scope, p Page) ([]string, string, error) {
	if err := c.ensureDefault(ctx, s); err != nil {
		return nil, "", err
	}
	kvs, err := c.st.List(ctx, keyPrefix(s)+"clusters/")
	if err != nil {
		return nil, "", err
	}
	var arns []string
	for _, kv := range kvs {
		cl, err := cachedDecode[Cluster](c, kv)
		if err != nil {
			return nil, "", err
		}
		if cl.Status == StatusActive {
			arns = append(arns, cl.ARN)
		}
	}
	return paginate("ListClusters", arns, p)
}

// DeleteCluster makes a cluster INACTIVE. It still describes afterwards.
func (c *Control) DeleteCluster(ctx context.Context, s tenant.Scope, ref string) (*Cluster, error) {
	name, err := ClusterName(s, ref)
	if err != nil {
		return nil, err
	}
	if err := c.ensureDefault(ctx, s); err != nil {
		return nil, err
	}
	var out *Cluster
	_, err = c.st.Update(ctx, func(tx store.Tx) error {
		cl, err := get[Cluster](tx, clusterKey(s, name))
		if errors.Is(err, store.ErrNotFound) {
			return ErrClusterNotFound
		}
		if err != nil {
			return err
		}
		if cl.Status != StatusActive {
			return ErrClusterNotFound
		}
		tasks, err := tx.List(keyPrefix(s) + "tasks/" + name + "/")
		if err != nil {
			return err
		}
		for _, kv := range tasks {
			t, err := decode[Task](kv)
			if err != nil {
				return err
			}
			if t.Active() {
				return ErrClusterHasTasks
			}
		}
		if active, draining, err := activeServiceCount(tx, s, name); err != nil {
			return err
		} else if active+draining > 0 {
			return ErrClusterHasServices
		}
		cl.Status = StatusInactive
		cl.DeletedAt = c.now().UTC()
		out = cl
		return put(tx, clusterKey(s, name), cl)
	})
	return out, err
}

// UpdateCluster changes a cluster's settings, configuration and Service
// Connect defaults.
func (c *Control) UpdateCluster(ctx context.Context, s tenant.Scope, ref string, u ClusterUpdate) (*Cluster, error) {
	if err := validateSettings(u.Settings); err != nil {
		return nil, err
	}
	return c.mutateCluster(ctx, s, ref, func(cl *Cluster) error {
		for _, st := range u.Settings {
			i := slices.IndexFunc(cl.Settings, func(x ClusterSetting) bool { return x.Name == st.Name })
			if i >= 0 {
				cl.Settings[i] = st
			} else {
				cl.Settings = append(cl.Settings, st)
			}
		}
		if u.Configuration != nil {
			cl.Configuration = u.Configuration
		}
		if u.ServiceConnectNamespace != nil {
			cl.ServiceConnectNamespace = *u.ServiceConnectNamespace
		}
		return nil
	})
}

// PutClusterCapacityProviders replaces a cluster's capacity providers and
// default strategy ([] clears them).
func (c *Control) PutClusterCapacityProviders(ctx context.Context, s tenant.Scope, ref string, providers []string, strategy []CapacityProviderStrategyItem) (*Cluster, error) {
	if err := validateCapacityProviders(providers, strategy); err != nil {
		return nil, err
	}
	return c.mutateCluster(ctx, s, ref, func(cl *Cluster) error {
		cl.CapacityProviders = providers
		cl.DefaultCapacityProviderStrategy = strategy
		return nil
	})
}

// mutateCluster applies fn to an ACTIVE cluster in one transaction.
func (c *Control) mutateCluster(ctx context.Context, s tenant.Scope, ref string, fn func(*Cluster) error) (*Cluster, error) {
	name, err := ClusterName(s, ref)
	if err != nil {
		return nil, err
	}
	if err := c.ensureDefault(ctx, s); err != nil {
		return nil, err
	}
	var out *Cluster
	_, err = c.st.Update(ctx, func(tx store.Tx) error {
		cl, err := get[Cluster](tx, clusterKey(s, name))
		if errors.Is(err, store.ErrNotFound) {
			return ErrClusterNotFound
		}
		if err != nil {
			return err
		}
		if cl.Status != StatusActive {
			return errdefs.New(ErrInvalidParameter, "The specified cluster is inactive. Specify an active cluster and try again.")
		}
		if err := fn(cl); err != nil {
			return err
		}
		out = cl
		return put(tx, clusterKey(s, name), cl)
	})
	return out, err
}
