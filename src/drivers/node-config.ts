// A node's engine configuration from its spec, for every driver: each says only where the
// engine's files go (the local driver: the node's directory; Kubernetes: the pod's volume).
import { renderDataNodeConfig, renderSentinelConfig } from '../engines/config.js';
import type { NodeSpec } from './driver.js';

export interface EngineFiles {
  dir: string;
  pidFile: string;
  logFile: string;
}

export function renderNodeConfig(node: NodeSpec, files: EngineFiles): string {
  return node.kind === 'sentinel'
    ? renderSentinelConfig({ nodeId: node.nodeId, ip: node.ip, port: node.port, password: node.password, serviceSecret: node.serviceSecret, ...files, ...node.sentinel! })
    : renderDataNodeConfig({
        instanceId: node.nodeId,
        ip: node.ip,
        port: node.port,
        password: node.password,
        serviceSecret: node.serviceSecret,
        ...files,
        maxMemoryBytes: node.maxMemoryBytes,
        ioThreads: node.ioThreads,
        replicaOf: node.replicaOf,
        keepWriteLog: node.keepWriteLog ?? false,
        parameters: node.parameters,
        commands: node.commands,
      });
}
