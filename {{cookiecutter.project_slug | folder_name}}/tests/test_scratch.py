import json
JOB = "test_334734506738"
def test_probe(azure, mlops, project, paths):
    azure.serve("code/upload.json")
    azure.serve("storage/upload.json")
    azure.serve("environments/latest.json", environment_name="customer-churn-train-env", tags={})
    azure.serve("data/latest.json", data_name="customer-churn-sample-data", data_type="uri_folder", tags={})
    azure.serve("jobs/create.json")
    azure.serve("jobs/get.json", status="Running")
    azure.serve("workspace/get.json")
    azure.serve("workspace/discovery.json")
    azure.serve("datastores/workspaceartifactstore.json")
    azure.serve("jobs/run-details.json", status="Running")
    azure.serve("jobs/run-details.json", status="Completed")
    azure.serve("storage/list-blobs.json", blob=f"ExperimentRun/dcid.{JOB}/user_logs/std_log.txt")
    azure.serve("storage/list-no-blobs.json")
    azure.serve("storage/get-blob.json", blob=f"ExperimentRun/dcid.{JOB}/user_logs/std_log.txt", content="training...\naccuracy 0.8\n")
    azure.serve("jobs/get.json", status="Completed")
    try:
        result = mlops("train", paths.train, "--wait", "--metadata-out", "outputs/run.json")
        print("STDOUT", result.stdout)
        print("STDERR", result.stderr)
    finally:
        for s in azure.sent: print(s.method, s.url[:250])
