"""Scheduled reconciliation of pod ownership records against RunPod (also `make reconcile`)."""

from podgate import runtime
from podgate.observability import logger, metrics
from podgate.services.reconcile import Reconciler


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event, context):
    token = runtime.lambda_context.set(context)
    try:
        return Reconciler(runtime.runpod(), runtime.pod_records()).run().as_dict()
    finally:
        runtime.lambda_context.reset(token)
