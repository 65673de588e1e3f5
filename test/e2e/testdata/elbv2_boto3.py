"""ELBv2 with boto3 against fargo, through the profile fargo wrote: a load
balancer and its waiter, a target group, a listener and rules, targets and
the target-deregistered waiter, paginators, and AWS's error codes as
botocore parses them. argv[1] is the instance's task pool (ip targets must
be inside it). Exits non-zero, with the reason, on the first surprise."""
import ipaddress
import sys

import boto3
from botocore.exceptions import ClientError

session = boto3.Session(profile_name="fargo")
elb = session.client("elbv2")
pool = ipaddress.ip_network(sys.argv[1])


def check(cond, what):
    if not cond:
        sys.exit("elbv2 boto3: " + what)


def error_code(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    sys.exit("elbv2 boto3: %s succeeded, wanted an error" % fn.__name__)


lb = elb.create_load_balancer(Name="py-alb", Subnets=["subnet-1", "subnet-2"], Scheme="internal")["LoadBalancers"][0]
check(lb["DNSName"].startswith("internal-py-alb-"), "internal DNS name: %r" % lb["DNSName"])
check(lb["State"]["Code"] == "provisioning", "state %r" % lb["State"])
check(len(lb["AvailabilityZones"]) == 2, "zones %r" % lb["AvailabilityZones"])
elb.get_waiter("load_balancer_available").wait(LoadBalancerArns=[lb["LoadBalancerArn"]], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
# Creating the same load balancer again answers it (idempotent).
again = elb.create_load_balancer(Name="py-alb", Subnets=["subnet-1", "subnet-2"], Scheme="internal")["LoadBalancers"][0]
check(again["LoadBalancerArn"] == lb["LoadBalancerArn"], "create twice: %r" % again)

for kw, code in ((dict(Name="x" * 33), "ValidationError"), (dict(Name="internal-web"), "ValidationError"), (dict(Name="web_alb"), "ValidationError"),
                 (dict(Name="nlb", Type="network"), "OperationNotPermitted"), (dict(Name="py-alb", Subnets=["subnet-9"]), "DuplicateLoadBalancerName")):
    kw.setdefault("Subnets", ["subnet-1"])
    check(error_code(elb.create_load_balancer, **kw) == code, "create_load_balancer %r" % kw)
check(error_code(elb.describe_load_balancers, LoadBalancerArns=[lb["LoadBalancerArn"].replace("py-alb", "nope")]) == "LoadBalancerNotFound", "missing load balancer")
policy = elb.describe_ssl_policies(Names=["ELBSecurityPolicy-TLS13-1-2-2021-06"])["SslPolicies"][0]
check("TLSv1.3" in policy["SslProtocols"] and policy["Ciphers"][0]["Priority"] == 1, "ssl policy %r" % policy)
check(elb.describe_account_limits()["Limits"][0]["Name"] == "application-load-balancers", "account limits")

tg = elb.create_target_group(Name="py-tg", Protocol="HTTP", Port=8080, VpcId=lb["VpcId"], TargetType="ip",
                             HealthCheckPath="/health", Matcher={"HttpCode": "200-299"})["TargetGroups"][0]
check(tg["Matcher"]["HttpCode"] == "200-299" and tg["HealthCheckProtocol"] == "HTTP", "target group %r" % tg)
check(error_code(elb.create_target_group, Name="bad", Protocol="HTTP", Port=80, VpcId=lb["VpcId"], Matcher={"HttpCode": "600"}) == "ValidationError", "matcher 600")
check(error_code(elb.create_target_group, Name="tcp", Protocol="TCP", Port=80, VpcId=lb["VpcId"]) == "InvalidConfigurationRequest", "TCP group")
check(error_code(elb.create_target_group, Name="py-tg", Protocol="HTTP", Port=81, VpcId=lb["VpcId"], TargetType="ip") == "DuplicateTargetGroupName", "duplicate group")
check(error_code(elb.create_target_group, Name="bad-hc", Protocol="HTTP", Port=80, VpcId=lb["VpcId"], HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=6) == "ValidationError", "timeout over interval")
check(error_code(elb.modify_target_group_attributes, TargetGroupArn=tg["TargetGroupArn"], Attributes=[{"Key": "slow_start.duration_seconds", "Value": "5"}]) == "ValidationError", "slow start 5")
other = elb.create_target_group(Name="other-vpc", Protocol="HTTP", Port=80, VpcId="vpc-0123456789abcdef0", TargetType="ip")["TargetGroups"][0]
check(error_code(elb.create_listener, LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8090,
                 DefaultActions=[{"Type": "forward", "TargetGroupArn": other["TargetGroupArn"]}]) == "InvalidConfigurationRequest", "a group of another VPC")

ls = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8081,
                         DefaultActions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": tg["TargetGroupArn"], "Weight": 3}]}}])["Listeners"][0]
check(ls["DefaultActions"][0]["ForwardConfig"]["TargetGroups"][0]["Weight"] == 3, "weights %r" % ls["DefaultActions"])
https = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=8443,
                            Certificates=[{"CertificateArn": "arn:aws:acm:us-east-1:000000000000:certificate/py-cert"}],
                            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain", "MessageBody": "ok"}}])["Listeners"][0]
check(https["SslPolicy"] == "ELBSecurityPolicy-2016-08", "ssl policy %r" % https)
elb.add_listener_certificates(ListenerArn=https["ListenerArn"], Certificates=[{"CertificateArn": "arn:aws:acm:us-east-1:000000000000:certificate/py-cert-2"}])
certs = elb.describe_listener_certificates(ListenerArn=https["ListenerArn"])["Certificates"]
check([c["IsDefault"] for c in certs] == [True, False], "listener certificates %r" % certs)
check(elb.set_security_groups(LoadBalancerArn=lb["LoadBalancerArn"], SecurityGroups=["sg-9"])["SecurityGroupIds"] == ["sg-9"], "set_security_groups")
check(error_code(elb.create_listener, LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=9443,
                 Certificates=[{"CertificateArn": "not-a-cert"}], DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]) == "CertificateNotFound", "bad certificate")
check(error_code(elb.create_listener, LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8081,
                 DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]) == "DuplicateListener", "duplicate listener")

for prio in (5, 6, 7):
    elb.create_rule(ListenerArn=ls["ListenerArn"], Priority=prio,
                    Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/p%d/*" % prio]}}],
                    Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])
check(error_code(elb.create_rule, ListenerArn=ls["ListenerArn"], Priority=6,
                 Conditions=[{"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}],
                 Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]) == "PriorityInUse", "priority clash")
rules = elb.describe_rules(ListenerArn=ls["ListenerArn"])["Rules"]
check([r["Priority"] for r in rules] == ["5", "6", "7", "default"], "rules %r" % [r["Priority"] for r in rules])
# Swap 5 and 7 in one call.
elb.set_rule_priorities(RulePriorities=[{"RuleArn": rules[0]["RuleArn"], "Priority": 7}, {"RuleArn": rules[2]["RuleArn"], "Priority": 5}])
rules2 = elb.describe_rules(ListenerArn=ls["ListenerArn"])["Rules"]
check(rules2[0]["RuleArn"] == rules[2]["RuleArn"], "after the swap %r" % rules2)
check(error_code(elb.set_rule_priorities, RulePriorities=[{"RuleArn": rules[0]["RuleArn"], "Priority": 6}]) == "PriorityInUse", "set priority clash")

check(error_code(elb.delete_rule, RuleArn=rules2[-1]["RuleArn"]) == "OperationNotPermitted", "delete the default rule")
elb.delete_rule(RuleArn=rules2[0]["RuleArn"])
check(error_code(elb.delete_rule, RuleArn=rules2[0]["RuleArn"]) == "RuleNotFound", "delete a rule twice")
attrs = elb.describe_listener_attributes(ListenerArn=ls["ListenerArn"])["Attributes"]
check({"Key": "routing.http.response.server.enabled", "Value": "true"} in attrs, "listener attributes %r" % attrs)

# A paginator over many target groups.
for i in range(4):
    elb.create_target_group(Name="pg-%d" % i, Protocol="HTTP", Port=80, VpcId=lb["VpcId"], TargetType="ip")
names = [g["TargetGroupName"] for page in elb.get_paginator("describe_target_groups").paginate(PaginationConfig={"PageSize": 2}) for g in page["TargetGroups"]]
check(len(names) == 6 and len(set(names)) == 6, "paginated target groups %r" % names)

ip = str(pool.network_address + 0x0905)
check(error_code(elb.register_targets, TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": "i-0abc"}]) == "InvalidTarget", "an instance id in an ip group")
elb.register_targets(TargetGroupArn=other["TargetGroupArn"], Targets=[{"Id": ip}])
h = elb.describe_target_health(TargetGroupArn=other["TargetGroupArn"])["TargetHealthDescriptions"]
check(h[0]["TargetHealth"]["Reason"] == "Target.NotInUse", "a target of a group no listener uses: %r" % h)
elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": ip}])
h = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
check(len(h) == 1 and h[0]["Target"]["Port"] == 8080 and h[0]["TargetHealth"]["State"] == "initial", "health %r" % h)
elb.modify_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"], Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
elb.deregister_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": ip}])
h = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
check(h[0]["TargetHealth"]["State"] == "draining", "draining %r" % h)
elb.get_waiter("target_deregistered").wait(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": ip}], WaiterConfig={"Delay": 1, "MaxAttempts": 20})
check(error_code(elb.delete_target_group, TargetGroupArn=tg["TargetGroupArn"]) == "ResourceInUse", "delete a group in use")
check(error_code(elb.deregister_targets, TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": ip}]) == "InvalidTarget", "deregister a target not registered")
check(error_code(elb.describe_target_health, TargetGroupArn=tg["TargetGroupArn"].replace("py-tg", "nope")) == "TargetGroupNotFound", "missing group")
check(error_code(elb.describe_listeners) == "ValidationError", "describe_listeners without arguments")

elb.delete_listener(ListenerArn=ls["ListenerArn"])
elb.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])
elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
elb.get_waiter("load_balancers_deleted").wait(LoadBalancerArns=[lb["LoadBalancerArn"]], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
print("elbv2 boto3 ok")
