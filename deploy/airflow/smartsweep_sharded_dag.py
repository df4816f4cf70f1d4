"""A sharded nightly smartsweep export in Airflow (2.4+), with dynamic task
mapping: plan -> N mapped shard tasks -> commit.

Airflow schedules and retries; smartsweep makes every task idempotent:
- `plan` rewrites the same plan for the same inputs;
- a retried shard resumes its own checkpoint (`--shard I/N`);
- `commit` refuses (exit 1, naming them) while a shard is unfinished, and is a
  no-op once the dataset is committed.

Exit codes: 0 done; 3 done with failed records (listed in `_errors.csv`; the
task succeeds, review the report); 1 aborted, resumable (retry); 2 usage.
"""

from __future__ import annotations

import pendulum
from airflow.decorators import dag, task
from airflow.operators.bash import BashOperator

SHARDS = 8
PIPELINE = "/opt/smartsweep/pipelines/population.toml"
BUCKET = "s3://warehouse/smart/population"
COMMON = "--api-base https://smart.example.org --app-id export@apps.example.org"
# Exit 3 (finished, some records failed) is a success for the scheduler.
OK3 = "; rc=$?; if [ $rc -eq 3 ]; then exit 0; fi; exit $rc"


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 12, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 3},
    tags=["smart", "export"],
)
def smartsweep_population():
    plan = BashOperator(
        task_id="plan",
        bash_command=(
            f"smartsweep plan {PIPELINE} --shards {SHARDS} {COMMON} "
            f"--seeds-from {BUCKET}/{{{{ prev_ds }}}} --output {BUCKET}/{{{{ ds }}}}"
        ),
    )

    @task
    def shard_numbers() -> list[int]:
        return list(range(SHARDS))

    shards = BashOperator.partial(
        task_id="shard",
        append_env=True,
        # Each mapped task runs one shard; a retry resumes its checkpoint.
        bash_command=(
            f"smartsweep run {PIPELINE} {COMMON} --output {BUCKET}/{{{{ ds }}}} "
            f"--shard $SHARD/{SHARDS} --log-format json{OK3}"
        ),
    ).expand(env=shard_numbers().map(lambda i: {"SHARD": str(i)}))

    commit = BashOperator(
        task_id="commit",
        bash_command=f"smartsweep commit {BUCKET}/{{{{ ds }}}}{OK3}",
    )

    plan >> shards >> commit


smartsweep_population()
