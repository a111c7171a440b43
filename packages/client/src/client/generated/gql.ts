/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment ApiKeyFields on ApiKey {\n    id\n    name\n    prefix\n    tenantId\n    admin\n    limits {\n      activeJobs\n      jobsPerMinute\n      dailySpendUsd\n    }\n    createdAt\n    lastUsedAt\n    revokedAt\n  }\n": typeof types.ApiKeyFieldsFragmentDoc,
    "\n  query ApiKeys {\n    apiKeys {\n      ...ApiKeyFields\n    }\n  }\n": typeof types.ApiKeysDocument,
    "\n  mutation CreateApiKey($input: CreateApiKeyInput!) {\n    createApiKey(input: $input) {\n      secret\n      apiKey {\n        ...ApiKeyFields\n      }\n    }\n  }\n": typeof types.CreateApiKeyDocument,
    "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      id\n    }\n  }\n": typeof types.RevokeApiKeyDocument,
    "\n  fragment PredictionFields on Prediction {\n    id\n    status\n    prompt\n    model\n    resolution\n    aspectRatio\n    duration\n    seed\n    upstreamId\n    outputs\n    videoUrl\n    error\n    errorCode\n    predictTime\n    priceUsd\n    costUsd\n    createdAt\n    updatedAt\n    completedAt\n    deadlineAt\n    elapsedMs\n    estimatedProgress\n    estimatedCompletionAt\n    progressIsEstimate\n    mode\n    media {\n      role\n      url\n      uploadId\n    }\n  }\n": typeof types.PredictionFieldsFragmentDoc,
    "\n  mutation GenerateVideo($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n": typeof types.GenerateVideoDocument,
    "\n  mutation GenerateVideoFromImage($input: GenerateVideoFromImageInput!) {\n    generateVideoFromImage(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n": typeof types.GenerateVideoFromImageDocument,
    "\n  mutation GenerateVideoFromReferences($input: GenerateVideoFromReferencesInput!) {\n    generateVideoFromReferences(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n": typeof types.GenerateVideoFromReferencesDocument,
    "\n  mutation EditVideo($input: EditVideoInput!) {\n    editVideo(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n": typeof types.EditVideoDocument,
    "\n  query Prediction($id: ID!) {\n    prediction(id: $id) {\n      ...PredictionFields\n    }\n  }\n": typeof types.PredictionDocument,
    "\n  query Predictions($first: Int, $after: String, $status: [PredictionStatus!], $mode: [Mode!]) {\n    predictions(first: $first, after: $after, status: $status, mode: $mode) {\n      edges {\n        cursor\n        node {\n          ...PredictionFields\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": typeof types.PredictionsDocument,
    "\n  subscription PredictionUpdated($id: ID!, $progress: Boolean) {\n    predictionUpdated(id: $id, progress: $progress) {\n      ...PredictionFields\n    }\n  }\n": typeof types.PredictionUpdatedDocument,
    "\n  mutation CancelPrediction($id: ID!) {\n    cancelPrediction(id: $id) {\n      ...PredictionFields\n    }\n  }\n": typeof types.CancelPredictionDocument,
    "\n  query Viewer {\n    viewer {\n      id\n      tenantId\n      admin\n      authenticatedBy\n      limits {\n        activeJobs\n        jobsPerMinute\n        dailySpendUsd\n      }\n      activity {\n        activeJobs\n        jobsLastMinute\n        spentTodayUsd\n      }\n    }\n  }\n": typeof types.ViewerDocument,
    "\n  fragment UploadFields on Upload {\n    id\n    status\n    rejectionReason\n    contentType\n    byteSize\n    filename\n    width\n    height\n    uploadUrl\n    headers {\n      name\n      value\n    }\n    createdAt\n    expiresAt\n    usedAt\n  }\n": typeof types.UploadFieldsFragmentDoc,
    "\n  mutation CreateUpload($input: CreateUploadInput!) {\n    createUpload(input: $input) {\n      upload {\n        ...UploadFields\n      }\n    }\n  }\n": typeof types.CreateUploadDocument,
    "\n  mutation CompleteUpload($id: ID!) {\n    completeUpload(id: $id) {\n      ...UploadFields\n    }\n  }\n": typeof types.CompleteUploadDocument,
    "\n  query Upload($id: ID!) {\n    upload(id: $id) {\n      ...UploadFields\n    }\n  }\n": typeof types.UploadDocument,
    "\n  subscription MyPredictionsUpdated {\n    myPredictionsUpdated {\n      ...PredictionFields\n    }\n  }\n": typeof types.MyPredictionsUpdatedDocument,
};
const documents: Documents = {
    "\n  fragment ApiKeyFields on ApiKey {\n    id\n    name\n    prefix\n    tenantId\n    admin\n    limits {\n      activeJobs\n      jobsPerMinute\n      dailySpendUsd\n    }\n    createdAt\n    lastUsedAt\n    revokedAt\n  }\n": types.ApiKeyFieldsFragmentDoc,
    "\n  query ApiKeys {\n    apiKeys {\n      ...ApiKeyFields\n    }\n  }\n": types.ApiKeysDocument,
    "\n  mutation CreateApiKey($input: CreateApiKeyInput!) {\n    createApiKey(input: $input) {\n      secret\n      apiKey {\n        ...ApiKeyFields\n      }\n    }\n  }\n": types.CreateApiKeyDocument,
    "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      id\n    }\n  }\n": types.RevokeApiKeyDocument,
    "\n  fragment PredictionFields on Prediction {\n    id\n    status\n    prompt\n    model\n    resolution\n    aspectRatio\n    duration\n    seed\n    upstreamId\n    outputs\n    videoUrl\n    error\n    errorCode\n    predictTime\n    priceUsd\n    costUsd\n    createdAt\n    updatedAt\n    completedAt\n    deadlineAt\n    elapsedMs\n    estimatedProgress\n    estimatedCompletionAt\n    progressIsEstimate\n    mode\n    media {\n      role\n      url\n      uploadId\n    }\n  }\n": types.PredictionFieldsFragmentDoc,
    "\n  mutation GenerateVideo($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n": types.GenerateVideoDocument,
    "\n  mutation GenerateVideoFromImage($input: GenerateVideoFromImageInput!) {\n    generateVideoFromImage(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n": types.GenerateVideoFromImageDocument,
    "\n  mutation GenerateVideoFromReferences($input: GenerateVideoFromReferencesInput!) {\n    generateVideoFromReferences(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n": types.GenerateVideoFromReferencesDocument,
    "\n  mutation EditVideo($input: EditVideoInput!) {\n    editVideo(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n": types.EditVideoDocument,
    "\n  query Prediction($id: ID!) {\n    prediction(id: $id) {\n      ...PredictionFields\n    }\n  }\n": types.PredictionDocument,
    "\n  query Predictions($first: Int, $after: String, $status: [PredictionStatus!], $mode: [Mode!]) {\n    predictions(first: $first, after: $after, status: $status, mode: $mode) {\n      edges {\n        cursor\n        node {\n          ...PredictionFields\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": types.PredictionsDocument,
    "\n  subscription PredictionUpdated($id: ID!, $progress: Boolean) {\n    predictionUpdated(id: $id, progress: $progress) {\n      ...PredictionFields\n    }\n  }\n": types.PredictionUpdatedDocument,
    "\n  mutation CancelPrediction($id: ID!) {\n    cancelPrediction(id: $id) {\n      ...PredictionFields\n    }\n  }\n": types.CancelPredictionDocument,
    "\n  query Viewer {\n    viewer {\n      id\n      tenantId\n      admin\n      authenticatedBy\n      limits {\n        activeJobs\n        jobsPerMinute\n        dailySpendUsd\n      }\n      activity {\n        activeJobs\n        jobsLastMinute\n        spentTodayUsd\n      }\n    }\n  }\n": types.ViewerDocument,
    "\n  fragment UploadFields on Upload {\n    id\n    status\n    rejectionReason\n    contentType\n    byteSize\n    filename\n    width\n    height\n    uploadUrl\n    headers {\n      name\n      value\n    }\n    createdAt\n    expiresAt\n    usedAt\n  }\n": types.UploadFieldsFragmentDoc,
    "\n  mutation CreateUpload($input: CreateUploadInput!) {\n    createUpload(input: $input) {\n      upload {\n        ...UploadFields\n      }\n    }\n  }\n": types.CreateUploadDocument,
    "\n  mutation CompleteUpload($id: ID!) {\n    completeUpload(id: $id) {\n      ...UploadFields\n    }\n  }\n": types.CompleteUploadDocument,
    "\n  query Upload($id: ID!) {\n    upload(id: $id) {\n      ...UploadFields\n    }\n  }\n": types.UploadDocument,
    "\n  subscription MyPredictionsUpdated {\n    myPredictionsUpdated {\n      ...PredictionFields\n    }\n  }\n": types.MyPredictionsUpdatedDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment ApiKeyFields on ApiKey {\n    id\n    name\n    prefix\n    tenantId\n    admin\n    limits {\n      activeJobs\n      jobsPerMinute\n      dailySpendUsd\n    }\n    createdAt\n    lastUsedAt\n    revokedAt\n  }\n"): (typeof documents)["\n  fragment ApiKeyFields on ApiKey {\n    id\n    name\n    prefix\n    tenantId\n    admin\n    limits {\n      activeJobs\n      jobsPerMinute\n      dailySpendUsd\n    }\n    createdAt\n    lastUsedAt\n    revokedAt\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ApiKeys {\n    apiKeys {\n      ...ApiKeyFields\n    }\n  }\n"): (typeof documents)["\n  query ApiKeys {\n    apiKeys {\n      ...ApiKeyFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateApiKey($input: CreateApiKeyInput!) {\n    createApiKey(input: $input) {\n      secret\n      apiKey {\n        ...ApiKeyFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateApiKey($input: CreateApiKeyInput!) {\n    createApiKey(input: $input) {\n      secret\n      apiKey {\n        ...ApiKeyFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      id\n    }\n  }\n"): (typeof documents)["\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment PredictionFields on Prediction {\n    id\n    status\n    prompt\n    model\n    resolution\n    aspectRatio\n    duration\n    seed\n    upstreamId\n    outputs\n    videoUrl\n    error\n    errorCode\n    predictTime\n    priceUsd\n    costUsd\n    createdAt\n    updatedAt\n    completedAt\n    deadlineAt\n    elapsedMs\n    estimatedProgress\n    estimatedCompletionAt\n    progressIsEstimate\n    mode\n    media {\n      role\n      url\n      uploadId\n    }\n  }\n"): (typeof documents)["\n  fragment PredictionFields on Prediction {\n    id\n    status\n    prompt\n    model\n    resolution\n    aspectRatio\n    duration\n    seed\n    upstreamId\n    outputs\n    videoUrl\n    error\n    errorCode\n    predictTime\n    priceUsd\n    costUsd\n    createdAt\n    updatedAt\n    completedAt\n    deadlineAt\n    elapsedMs\n    estimatedProgress\n    estimatedCompletionAt\n    progressIsEstimate\n    mode\n    media {\n      role\n      url\n      uploadId\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation GenerateVideo($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation GenerateVideo($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation GenerateVideoFromImage($input: GenerateVideoFromImageInput!) {\n    generateVideoFromImage(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation GenerateVideoFromImage($input: GenerateVideoFromImageInput!) {\n    generateVideoFromImage(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation GenerateVideoFromReferences($input: GenerateVideoFromReferencesInput!) {\n    generateVideoFromReferences(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation GenerateVideoFromReferences($input: GenerateVideoFromReferencesInput!) {\n    generateVideoFromReferences(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EditVideo($input: EditVideoInput!) {\n    editVideo(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation EditVideo($input: EditVideoInput!) {\n    editVideo(input: $input) {\n      prediction {\n        ...PredictionFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Prediction($id: ID!) {\n    prediction(id: $id) {\n      ...PredictionFields\n    }\n  }\n"): (typeof documents)["\n  query Prediction($id: ID!) {\n    prediction(id: $id) {\n      ...PredictionFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Predictions($first: Int, $after: String, $status: [PredictionStatus!], $mode: [Mode!]) {\n    predictions(first: $first, after: $after, status: $status, mode: $mode) {\n      edges {\n        cursor\n        node {\n          ...PredictionFields\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"): (typeof documents)["\n  query Predictions($first: Int, $after: String, $status: [PredictionStatus!], $mode: [Mode!]) {\n    predictions(first: $first, after: $after, status: $status, mode: $mode) {\n      edges {\n        cursor\n        node {\n          ...PredictionFields\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription PredictionUpdated($id: ID!, $progress: Boolean) {\n    predictionUpdated(id: $id, progress: $progress) {\n      ...PredictionFields\n    }\n  }\n"): (typeof documents)["\n  subscription PredictionUpdated($id: ID!, $progress: Boolean) {\n    predictionUpdated(id: $id, progress: $progress) {\n      ...PredictionFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CancelPrediction($id: ID!) {\n    cancelPrediction(id: $id) {\n      ...PredictionFields\n    }\n  }\n"): (typeof documents)["\n  mutation CancelPrediction($id: ID!) {\n    cancelPrediction(id: $id) {\n      ...PredictionFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Viewer {\n    viewer {\n      id\n      tenantId\n      admin\n      authenticatedBy\n      limits {\n        activeJobs\n        jobsPerMinute\n        dailySpendUsd\n      }\n      activity {\n        activeJobs\n        jobsLastMinute\n        spentTodayUsd\n      }\n    }\n  }\n"): (typeof documents)["\n  query Viewer {\n    viewer {\n      id\n      tenantId\n      admin\n      authenticatedBy\n      limits {\n        activeJobs\n        jobsPerMinute\n        dailySpendUsd\n      }\n      activity {\n        activeJobs\n        jobsLastMinute\n        spentTodayUsd\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment UploadFields on Upload {\n    id\n    status\n    rejectionReason\n    contentType\n    byteSize\n    filename\n    width\n    height\n    uploadUrl\n    headers {\n      name\n      value\n    }\n    createdAt\n    expiresAt\n    usedAt\n  }\n"): (typeof documents)["\n  fragment UploadFields on Upload {\n    id\n    status\n    rejectionReason\n    contentType\n    byteSize\n    filename\n    width\n    height\n    uploadUrl\n    headers {\n      name\n      value\n    }\n    createdAt\n    expiresAt\n    usedAt\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateUpload($input: CreateUploadInput!) {\n    createUpload(input: $input) {\n      upload {\n        ...UploadFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateUpload($input: CreateUploadInput!) {\n    createUpload(input: $input) {\n      upload {\n        ...UploadFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CompleteUpload($id: ID!) {\n    completeUpload(id: $id) {\n      ...UploadFields\n    }\n  }\n"): (typeof documents)["\n  mutation CompleteUpload($id: ID!) {\n    completeUpload(id: $id) {\n      ...UploadFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Upload($id: ID!) {\n    upload(id: $id) {\n      ...UploadFields\n    }\n  }\n"): (typeof documents)["\n  query Upload($id: ID!) {\n    upload(id: $id) {\n      ...UploadFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription MyPredictionsUpdated {\n    myPredictionsUpdated {\n      ...PredictionFields\n    }\n  }\n"): (typeof documents)["\n  subscription MyPredictionsUpdated {\n    myPredictionsUpdated {\n      ...PredictionFields\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;