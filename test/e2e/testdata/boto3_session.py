"""A first session with boto3 against fargo, through the profile fargo
wrote (credentials, region and endpoint_url): ECS, ECR, CloudWatch Logs and
STS, paginators and waiters included, and AWS-shaped errors as botocore
parses them. Exits non-zero, with the reason, on the first surprise."""
import base64
import sys
import time

import boto3
from botocore.exceptions import ClientError, WaiterError

session = boto3.Session(profile_name="fargo")
ecs, ecr = session.client("ecs"), session.client("ecr")
logs, sts = session.client("logs"), session.client("sts")


def check(cond, what):
    if not cond:
        sys.exit("boto3: " + what)


def error_code(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    sys.exit("boto3: %s succeeded, wanted an error" % fn.__name__)


ident = sts.get_caller_identity()
check(ident["Account"] == "000000000000", "get_caller_identity: %r" % ident)

cl = ecs.create_cluster(clusterName="py", tags=[{"key": "team", "value": "py"}])["cluster"]
check(cl["status"] == "ACTIVE" and cl["clusterArn"].endswith(":cluster/py"), "create_cluster: %r" % cl)
td = {
    "family": "pyweb",
    "requiresCompatibilities": ["FARGATE"],
    "networkMode": "awsvpc",
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [{"name": "web", "image": "nginx", "portMappings": [{"containerPort": 80}]}],
}
for _ in range(3):
    ecs.register_task_definition(**td)
got = ecs.describe_task_definition(taskDefinition="pyweb")["taskDefinition"]
check(got["revision"] == 3 and got["status"] == "ACTIVE", "describe_task_definition: %r" % got)
check(isinstance(got["registeredAt"], object) and hasattr(got["registeredAt"], "year"), "registeredAt is not a timestamp")
arns = [a for page in ecs.get_paginator("list_task_definitions").paginate(familyPrefix="pyweb", PaginationConfig={"PageSize": 1})
        for a in page["taskDefinitionArns"]]
check(len(arns) == 3 and arns[0].endswith(":task-definition/pyweb:1"), "paginated list_task_definitions: %r" % arns)
code, msg = error_code(ecs.describe_task_definition, taskDefinition="nope")
check(code == "ClientException" and msg == "Unable to describe task definition.", "missing task definition: %s %s" % (code, msg))
code, _ = error_code(ecs.create_service, cluster="py", serviceName="s", taskDefinition="pyweb:1", desiredCount=-1)
check(code in ("InvalidParameterException", "ClientException"), "a negative desiredCount: %s" % code)
# services-inactive on a service that was never there fails fast, as on AWS.
t0 = time.time()
try:
    ecs.get_waiter("services_stable").wait(cluster="py", services=["ghost"], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    sys.exit("boto3: services_stable on a missing service succeeded")
except WaiterError as e:
    check(time.time() - t0 < 3, "services_stable on a missing service took %.1fs" % (time.time() - t0))

repo = ecr.create_repository(repositoryName="py/app", imageTagMutability="IMMUTABLE")["repository"]
check(repo["repositoryUri"].endswith("/py/app"), "create_repository: %r" % repo)
code, _ = error_code(ecr.create_repository, repositoryName="py/app")
check(code == "RepositoryAlreadyExistsException", "a second create_repository: %s" % code)
auth = ecr.get_authorization_token()["authorizationData"][0]
user, _, password = base64.b64decode(auth["authorizationToken"]).decode().partition(":")
check(user == "AWS" and password and auth["expiresAt"].year >= 2026, "get_authorization_token: %r" % auth)
code, _ = error_code(ecr.describe_images, repositoryName="py/none")
check(code == "RepositoryNotFoundException", "describe_images of a missing repository: %s" % code)

logs.create_log_group(logGroupName="/py/app")
logs.create_log_stream(logGroupName="/py/app", logStreamName="s1")
now = int(time.time() * 1000)
logs.put_log_events(logGroupName="/py/app", logStreamName="s1",
                    logEvents=[{"timestamp": now + i, "message": "line %d" % i} for i in range(5)])
ev = logs.get_log_events(logGroupName="/py/app", logStreamName="s1", startFromHead=True)["events"]
check([e["message"] for e in ev] == ["line %d" % i for i in range(5)], "get_log_events: %r" % ev)
found = logs.filter_log_events(logGroupName="/py/app", filterPattern='"line 3"')["events"]
check([e["message"] for e in found] == ["line 3"], "filter_log_events: %r" % found)
code, _ = error_code(logs.create_log_group, logGroupName="/py/app")
check(code == "ResourceAlreadyExistsException", "a second create_log_group: %s" % code)

print("boto3 session ok")
