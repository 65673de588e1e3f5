package elbv2

import (
	"fmt"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Error is an ELBv2 error: Code is the code AWS answers (the model's
// error code, e.g. DuplicateListener), the class is its errdefs class.
type Error struct {
	Code    string
	Message string
	class   error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the errdefs class.
func (e *Error) Unwrap() error { return e.class }

func newErr(class error, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), class: class}
}

// Error codes (the model's error.code of each exception).
const (
	CodeValidation                  = "ValidationError"
	CodeLoadBalancerNotFound        = "LoadBalancerNotFound"
	CodeTargetGroupNotFound         = "TargetGroupNotFound"
	CodeListenerNotFound            = "ListenerNotFound"
	CodeRuleNotFound                = "RuleNotFound"
	CodeDuplicateLoadBalancerName   = "DuplicateLoadBalancerName"
	CodeDuplicateTargetGroupName    = "DuplicateTargetGroupName"
	CodeDuplicateListener           = "DuplicateListener"
	CodeDuplicateTagKeys            = "DuplicateTagKeys"
	CodePriorityInUse               = "PriorityInUse"
	CodeResourceInUse               = "ResourceInUse"
	CodeInvalidTarget               = "InvalidTarget"
	CodeInvalidConfigurationRequest = "InvalidConfigurationRequest"
	CodeIncompatibleProtocols       = "IncompatibleProtocols"
	CodeUnsupportedProtocol         = "UnsupportedProtocol"
	CodeOperationNotPermitted       = "OperationNotPermitted"
	CodeSSLPolicyNotFound           = "SSLPolicyNotFound"
	CodeCertificateNotFound         = "CertificateNotFound"
	CodeInvalidLoadBalancerAction   = "InvalidLoadBalancerAction"
	CodeTooManyLoadBalancers        = "TooManyLoadBalancers"
	CodeTooManyListeners            = "TooManyListeners"
	CodeTooManyRules                = "TooManyRules"
	CodeTooManyTargetGroups         = "TooManyTargetGroups"
	CodeTooManyTargets              = "TooManyTargets"
	CodeTooManyTags                 = "TooManyTags"
	CodeTooManyActions              = "TooManyActions"
	CodeTooManyCertificates         = "TooManyCertificates"
)

func validationf(format string, args ...any) error {
	return newErr(errdefs.ErrInvalidArgument, CodeValidation, format, args...)
}

func invalidConfigf(format string, args ...any) error {
	return newErr(errdefs.ErrInvalidArgument, CodeInvalidConfigurationRequest, format, args...)
}

func tooMany(code, format string, args ...any) error {
	return newErr(errdefs.ErrLimitExceeded, code, format, args...)
}

var (
	errLBNotFound       = newErr(errdefs.ErrNotFound, CodeLoadBalancerNotFound, "One or more load balancers not found")
	errTGNotFound       = newErr(errdefs.ErrNotFound, CodeTargetGroupNotFound, "One or more target groups not found")
	errListenerNotFound = newErr(errdefs.ErrNotFound, CodeListenerNotFound, "One or more listeners not found")
	errRuleNotFound     = newErr(errdefs.ErrNotFound, CodeRuleNotFound, "One or more rules not found")
)

func lbNotFound(arn string) error {
	return newErr(errdefs.ErrNotFound, CodeLoadBalancerNotFound, "Load balancer '%s' not found", arn)
}

func tgNotFound(arn string) error {
	return newErr(errdefs.ErrNotFound, CodeTargetGroupNotFound, "Target groups '%s' not found", arn)
}

func listenerNotFound(arn string) error {
	return newErr(errdefs.ErrNotFound, CodeListenerNotFound, "Listener '%s' not found", arn)
}

func ruleNotFound(arn string) error {
	return newErr(errdefs.ErrNotFound, CodeRuleNotFound, "Rule '%s' not found", arn)
}

// Account limits (DescribeAccountLimits answers them; creation enforces
// the ones fargo can count).
const (
	LimitLoadBalancers          = 50
	LimitTargetGroups           = 3000
	LimitListenersPerLB         = 50
	LimitRulesPerLB             = 100
	LimitTargetsPerLB           = 1000
	LimitTargetGroupsPerAction  = 5
	LimitTargetGroupsPerLB      = 100
	LimitCertificatesPerLB      = 25
	LimitTagsPerResource        = 50
	LimitConditionValuesPerRule = 5
	LimitActionsPerRule         = 5
)

// Limit is a named account limit.
type Limit struct {
	Name string
	Max  int
}

// AccountLimits are the limits DescribeAccountLimits answers (AWS's
// names and default quotas).
func AccountLimits() []Limit {
	return []Limit{
		{"application-load-balancers", LimitLoadBalancers},
		{"target-groups", LimitTargetGroups},
		{"targets-per-application-load-balancer", LimitTargetsPerLB},
		{"listeners-per-application-load-balancer", LimitListenersPerLB},
		{"rules-per-application-load-balancer", LimitRulesPerLB},
		{"target-groups-per-action-on-application-load-balancer", LimitTargetGroupsPerAction},
		{"target-groups-per-application-load-balancer", LimitTargetGroupsPerLB},
		{"certificates-per-application-load-balancer", LimitCertificatesPerLB},
		{"condition-values-per-alb-rule", LimitConditionValuesPerRule},
		{"condition-wildcards-per-alb-rule", 5},
		{"network-load-balancers", 0},
		{"gateway-load-balancers", 0},
	}
}
