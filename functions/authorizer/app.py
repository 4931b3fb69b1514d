"""Lambda TOKEN authorizer for every /pods route (template.yaml: BearerTokenAuthorizer)."""

from podgate.authorizer import authorize
from podgate.observability import logger, metrics


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)  # the event carries the token: never log it
def lambda_handler(event, context):
    return authorize(event)
