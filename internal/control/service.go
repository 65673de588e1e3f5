package control

import (
	"crypto/rand"
	"encoding/json"
	"math/big"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Service statuses. A deleted service drains its tasks, then turns INACTIVE:
//
//	ACTIVE --DeleteService--> DRAINING --(no task left)--> INACTIVE
const (
	ServiceActive   = "ACTIVE"
	ServiceDraining = "DRAINING"
	ServiceInactive = "INACTIVE"
)

// Scheduling strategies and deployment controllers.
const (
	SchedulingReplica          = "REPLICA"
	SchedulingDaemon           = "DAEMON"
	DeploymentControllerECS    = "ECS"
	serviceGroupPrefix         = "service:"
	maxServiceEvents           = 100
	maxServiceDeploymentRecord = 50
)

// Deployment statuses (deployments[].status) and rollout states.
const (
	DeploymentPrimary    = "PRIMARY"
	DeploymentActive     = "ACTIVE"
	DeploymentInactive   = "INACTIVE"
	RolloutInProgress    = "IN_PROGRESS"
	RolloutCompleted     = "COMPLETED"
	RolloutFailed        = "FAILED"
	ServiceDeployPending = "PENDING"
)

// Service deployment statuses (ListServiceDeployments).
const (
	SvcDeployInProgress         = "IN_PROGRESS"
	SvcDeploySuccessful         = "SUCCESSFUL"
	SvcDeployStopped            = "STOPPED"
	SvcDeployRollbackInProgress = "ROLLBACK_IN_PROGRESS"
	SvcDeployRollbackSuccessful = "ROLLBACK_SUCCESSFUL"
	SvcDeployRollbackFailed     = "ROLLBACK_FAILED"
)

// Service errors.
var (
	ErrServiceNotFound  = errdefs.New(errdefs.ErrNotFound, "Service not found.")
	ErrServiceNotActive = errdefs.New(errdefs.ErrConflict, "Service was not ACTIVE.")
	// ErrServiceChanged: a controller plan was computed from a service
	// version that is no longer current; the controller re-reads and
	// decides again.
	ErrServiceChanged = errdefs.New(errdefs.ErrConflict, "service changed since the plan was made")
)

// Service is an ECS service: the promise to keep DesiredCount copies of a
// task definition running, and the deployments that change them.
//
// Deployments holds the live deployments, the PRIMARY first, then the
// ACTIVE ones still draining. Finished deployments move to History. The
// controller fields (Throttle, CountedStops, SteadyAt) are the service
// controller's memory, kept here so a restarted controller resumes.
type Service struct {
	Name       string `json:"name"`
	ARN        string `json:"arn"`
	Cluster    string `json:"cluster"`
	ClusterARN string `json:"clusterArn"`
	Status     string `json:"status"`

	DesiredCount   int    `json:"desiredCount"`
	TaskDefinition string `json:"taskDefinition"` // the PRIMARY's ARN

	LaunchType                    string                         `json:"launchType,omitempty"`
	CapacityProviderStrategy      []CapacityProviderStrategyItem `json:"capacityProviderStrategy,omitempty"`
	PlatformVersion               string                         `json:"platformVersion,omitempty"`
	NetworkConfiguration          *NetworkConfiguration          `json:"networkConfiguration,omitempty"`
	DeploymentConfiguration       DeploymentConfiguration        `json:"deploymentConfiguration"`
	DeploymentController          string                         `json:"deploymentController"`
	SchedulingStrategy            string                         `json:"schedulingStrategy"`
	HealthCheckGracePeriodSeconds int                            `json:"healthCheckGracePeriodSeconds,omitempty"`
	LoadBalancers                 []ServiceLoadBalancer          `json:"loadBalancers,omitempty"`
	ServiceRegistries             []ServiceRegistry              `json:"serviceRegistries,omitempty"`
	EnableECSManagedTags          bool                           `json:"enableECSManagedTags,omitempty"`
	EnableExecuteCommand          bool                           `json:"enableExecuteCommand,omitempty"`
	PropagateTags                 string                         `json:"propagateTags,omitempty"`
	RoleARN                       string                         `json:"roleArn,omitempty"`
	Tags                          []Tag                          `json:"tags,omitempty"`
	CreatedAt                     time.Time                      `json:"createdAt"`
	CreatedBy                     string                         `json:"createdBy,omitempty"`
	// SpecHash fingerprints the CreateService request (idempotency).
	SpecHash string `json:"specHash,omitempty"`

	Deployments []*Deployment  `json:"deployments"`
	History     []*Deployment  `json:"history,omitempty"`
	Events      []ServiceEvent `json:"events,omitempty"`
	// LastCompleted is a copy of the last deployment that reached
	// COMPLETED: the circuit breaker's rollback target.
	LastCompleted *Deployment `json:"lastCompleted,omitempty"`

	Throttle     ServiceThrottle `json:"throttle"`
	CountedStops []string        `json:"countedStops,omitempty"`
	SteadyAt     time.Time       `json:"steadyAt,omitzero"`

	// Version goes up by one on every write; controller plans carry the
	// version they were computed from.
	Version int64 `json:"version"`

	// RunningCount and PendingCount are computed from the tasks when the
	// service is read, never stored.
	RunningCount int `json:"-"`
	PendingCount int `json:"-"`
}

// ServiceLoadBalancer is a loadBalancers entry, kept as given.
type ServiceLoadBalancer struct {
	TargetGroupARN   string `json:"targetGroupArn,omitempty"`
	LoadBalancerName string `json:"loadBalancerName,omitempty"`
	ContainerName    string `json:"containerName,omitempty"`
	ContainerPort    int    `json:"containerPort,omitempty"`
}

// DeploymentConfiguration is how deployments replace tasks.
type DeploymentConfiguration struct {
	MaximumPercent        int            `json:"maximumPercent"`
	MinimumHealthyPercent int            `json:"minimumHealthyPercent"`
	CircuitBreaker        CircuitBreaker `json:"circuitBreaker"`
}

// CircuitBreaker is deploymentCircuitBreaker.
type CircuitBreaker struct {
	Enable   bool `json:"enable"`
	Rollback bool `json:"rollback"`
}

// ServiceThrottle is the task-start throttle: after repeated failures to
// start tasks, the controller waits longer and longer between attempts.
type ServiceThrottle struct {
	Failures    int       `json:"failures,omitempty"`
	NextStartAt time.Time `json:"nextStartAt,omitzero"`
	// Delay is the current wait between attempts, imposed at DelayedAt;
	// it grows when a task started after DelayedAt fails too.
	Delay     time.Duration `json:"delay,omitempty"`
	DelayedAt time.Time     `json:"delayedAt,omitzero"`
	// PlaceAfter holds starts back after a placement failure, so that a
	// full cluster is retried every PlacementRetryDelay, not in a loop.
	PlaceAfter time.Time `json:"placeAfter,omitzero"`
}

// PlacementRetryDelay is how long a service waits after tasks could not be
// placed (a node registering wakes the controller anyway).
const PlacementRetryDelay = 10 * time.Second

// ServiceEvent is one events[] entry.
type ServiceEvent struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	Message   string    `json:"message"`
}

// Deployment is one deployment of a service: a target configuration (its
// service revision) and how the rollout to it goes. It is both an entry of
// the service's deployments[] and a service deployment of
// ListServiceDeployments.
type Deployment struct {
	ID                   string                         `json:"id"` // ecs-svc/<19 digits>
	Status               string                         `json:"status"`
	TaskDefinition       string                         `json:"taskDefinition"`
	DesiredCount         int                            `json:"desiredCount"`
	LaunchType           string                         `json:"launchType,omitempty"`
	CapacityProvider     []CapacityProviderStrategyItem `json:"capacityProvider,omitempty"`
	PlatformVersion      string                         `json:"platformVersion,omitempty"`
	NetworkConfiguration *NetworkConfiguration          `json:"networkConfiguration,omitempty"`
	// LoadBalancers are the service's loadBalancers when the deployment
	// started: its tasks are registered there (service_lb.go).
	LoadBalancers      []ServiceLoadBalancer `json:"loadBalancers,omitempty"`
	RolloutState       string                `json:"rolloutState"`
	RolloutStateReason string                `json:"rolloutStateReason"`
	// FailedTasks is AWS's failedTasks: the consecutive failures the
	// circuit breaker counts. It drops to 0 when the deployment's first
	// task reaches RUNNING (stage 1 ends) and whenever one of its tasks
	// becomes healthy after the last failure (resetOnHealthyTask, which
	// AWS defaults to true and fargo always applies).
	FailedTasks int       `json:"failedTasks"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`

	// ReachedRunning: a task of the deployment has been RUNNING, so the
	// circuit breaker is in its stage 2. LastFailureAt is when the last
	// failure counted in FailedTasks happened.
	ReachedRunning bool      `json:"reachedRunning,omitempty"`
	LastFailureAt  time.Time `json:"lastFailureAt,omitzero"`

	// Service deployment view.
	DeploymentStatus        string                  `json:"deploymentStatus"`
	StatusReason            string                  `json:"statusReason,omitempty"`
	FinishedAt              time.Time               `json:"finishedAt,omitzero"`
	StoppedAt               time.Time               `json:"stoppedAt,omitzero"`
	SourceDeployments       []string                `json:"sourceDeployments,omitempty"`
	DeploymentConfiguration DeploymentConfiguration `json:"deploymentConfiguration"`
	RollbackOf              string                  `json:"rollbackOf,omitempty"`
	Rollback                *DeploymentRollback     `json:"rollback,omitempty"`

	RunningCount int `json:"-"`
	PendingCount int `json:"-"`
}

// DeploymentRollback says a failed deployment was rolled back, and to what.
type DeploymentRollback struct {
	Reason       string    `json:"reason"`
	StartedAt    time.Time `json:"startedAt"`
	DeploymentID string    `json:"deploymentId"`
}

// ServiceRef names a service anywhere in the control plane.
type ServiceRef struct {
	Scope   tenant.Scope
	Cluster string
	Name    string
}

// Primary returns the PRIMARY deployment (nil only for corrupt records).
func (s *Service) Primary() *Deployment {
	if len(s.Deployments) == 0 {
		return nil
	}
	return s.Deployments[0]
}

// Deployment returns the live deployment with the id.
func (s *Service) Deployment(id string) *Deployment {
	for _, d := range s.Deployments {
		if d.ID == id {
			return d
		}
	}
	return nil
}

// Group is the task group of the service's tasks.
func (s *Service) Group() string { return serviceGroupPrefix + s.Name }

// AddEvent adds an event (newest first, at most 100 kept).
func (s *Service) AddEvent(now time.Time, msg string) {
	ev := ServiceEvent{ID: uuid.NewString(), CreatedAt: now, Message: msg}
	s.Events = append([]ServiceEvent{ev}, s.Events...)
	if len(s.Events) > maxServiceEvents {
		s.Events = s.Events[:maxServiceEvents]
	}
}

// Clone deep-copies a service (the controller edits copies).
func (s *Service) Clone() *Service {
	b, _ := json.Marshal(s)
	out := new(Service)
	_ = json.Unmarshal(b, out)
	out.RunningCount, out.PendingCount = s.RunningCount, s.PendingCount
	for i, d := range s.Deployments {
		if i < len(out.Deployments) {
			out.Deployments[i].RunningCount, out.Deployments[i].PendingCount = d.RunningCount, d.PendingCount
		}
	}
	return out
}

// Retire moves a live deployment to the history.
func (s *Service) Retire(id string) {
	for i, d := range s.Deployments {
		if d.ID == id {
			s.Deployments = append(s.Deployments[:i:i], s.Deployments[i+1:]...)
			d.Status = DeploymentInactive
			s.History = append([]*Deployment{d}, s.History...)
			if len(s.History) > maxServiceDeploymentRecord {
				s.History = s.History[:maxServiceDeploymentRecord]
			}
			return
		}
	}
}

// FindDeployment looks a deployment up by id among live and past ones.
func (s *Service) FindDeployment(id string) *Deployment {
	if d := s.Deployment(id); d != nil {
		return d
	}
	for _, d := range s.History {
		if d.ID == id {
			return d
		}
	}
	return nil
}

// NewDeploymentID returns "ecs-svc/" and 19 random digits.
func NewDeploymentID() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(9e18))
	return "ecs-svc/" + new(big.Int).Add(n, big.NewInt(1e18)).String()
}

// deploymentDigits is the 19-digit part of a deployment id.
func deploymentDigits(id string) string { return strings.TrimPrefix(id, "ecs-svc/") }

// ServiceDeploymentARN is the ARN of a deployment as a service deployment.
func ServiceDeploymentARN(s tenant.Scope, svc *Service, d *Deployment) string {
	return s.ARN("ecs", "service-deployment/"+svc.Cluster+"/"+svc.Name+"/"+deploymentDigits(d.ID))
}

// ServiceRevisionARN is the ARN of the service revision a deployment
// targets (fargo keeps one revision per deployment).
func ServiceRevisionARN(s tenant.Scope, svc *Service, d *Deployment) string {
	return s.ARN("ecs", "service-revision/"+svc.Cluster+"/"+svc.Name+"/"+deploymentDigits(d.ID))
}

// CircuitBreakerThreshold is the number of failed tasks that trips the
// circuit breaker: min(max(ceil(desired/2), 3), 200).
func CircuitBreakerThreshold(desired int) int {
	return min(max((desired+1)/2, 3), 200)
}

func serviceKey(s tenant.Scope, cluster, name string) string {
	return keyPrefix(s) + "services/" + cluster + "/" + name
}

func servicesPrefix(s tenant.Scope, cluster string) string {
	return keyPrefix(s) + "services/" + cluster + "/"
}

// serviceIndexPrefix indexes the services the controller must reconcile
// (ACTIVE and DRAINING) across tenants: serviceindex/<acct>/<region>/<cluster>/<name>.
const serviceIndexPrefix = "serviceindex/"

func serviceIndexKey(s tenant.Scope, cluster, name string) string {
	return serviceIndexPrefix + s.Account + "/" + s.Region + "/" + cluster + "/" + name
}
