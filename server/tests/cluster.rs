//! The Proxmox cluster behind proxfleet, through the real client and HTTP to the simulator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

mod common;

use common::{client, spawn, spawn_with_cluster};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn the_dashboard_counts_the_cluster_from_one_inventory_call() {
    let srv = spawn_with_cluster().await;
    let me = srv.login_as("viewer").await;
    let resp = me
        .post(&srv.at("/sfn/cluster_overview"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let o: Value = resp.json().await.unwrap();
    assert_eq!((o["nodes_online"].as_u64(), o["nodes_total"].as_u64()), (Some(2), Some(2)));
    assert_eq!(o["vms_total"], 5, "templates are not counted as VMs");
    assert_eq!(o["templates"], 4);
    assert_eq!(o["cpu_cores"], 64);

    // The page itself has the figures (server-rendered).
    let html = me.get(&srv.at("/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-testid=\"cluster-overview\""), "{html}");

    // Anonymous callers get nothing.
    let anon = client()
        .post(srv.at("/sfn/cluster_overview"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_ne!(anon.status(), StatusCode::OK);
}

#[tokio::test]
async fn without_a_cluster_the_dashboard_says_so() {
    let srv = spawn().await;
    let me = srv.login_as("viewer").await;
    let resp = me
        .post(&srv.at("/sfn/cluster_overview"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_server_error());
    assert!(resp.text().await.unwrap().contains("no Proxmox VE cluster is configured"));
}
