import { graphql } from './generated/index.ts';

/** Every operation the typed client and the React hooks send; codegen turns each into a typed document. */

export const PredictionFieldsFragment = graphql(`
  fragment PredictionFields on Prediction {
    id
    status
    prompt
    model
    resolution
    aspectRatio
    duration
    seed
    upstreamId
    outputs
    videoUrl
    error
    errorCode
    predictTime
    priceUsd
    costUsd
    createdAt
    updatedAt
    completedAt
    deadlineAt
    elapsedMs
    estimatedProgress
    estimatedCompletionAt
    progressIsEstimate
    mode
    media {
      role
      url
      uploadId
    }
  }
`);

export const GenerateVideoDocument = graphql(`
  mutation GenerateVideo($input: GenerateVideoInput!) {
    generateVideo(input: $input) {
      prediction {
        ...PredictionFields
      }
    }
  }
`);

export const GenerateVideoFromImageDocument = graphql(`
  mutation GenerateVideoFromImage($input: GenerateVideoFromImageInput!) {
    generateVideoFromImage(input: $input) {
      prediction {
        ...PredictionFields
      }
    }
  }
`);

export const GenerateVideoFromReferencesDocument = graphql(`
  mutation GenerateVideoFromReferences($input: GenerateVideoFromReferencesInput!) {
    generateVideoFromReferences(input: $input) {
      prediction {
        ...PredictionFields
      }
    }
  }
`);

export const EditVideoDocument = graphql(`
  mutation EditVideo($input: EditVideoInput!) {
    editVideo(input: $input) {
      prediction {
        ...PredictionFields
      }
    }
  }
`);

export const PredictionDocument = graphql(`
  query Prediction($id: ID!) {
    prediction(id: $id) {
      ...PredictionFields
    }
  }
`);

export const PredictionsDocument = graphql(`
  query Predictions($first: Int, $after: String, $status: [PredictionStatus!], $mode: [Mode!]) {
    predictions(first: $first, after: $after, status: $status, mode: $mode) {
      edges {
        cursor
        node {
          ...PredictionFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const PredictionUpdatedDocument = graphql(`
  subscription PredictionUpdated($id: ID!, $progress: Boolean) {
    predictionUpdated(id: $id, progress: $progress) {
      ...PredictionFields
    }
  }
`);

export const CancelPredictionDocument = graphql(`
  mutation CancelPrediction($id: ID!) {
    cancelPrediction(id: $id) {
      ...PredictionFields
    }
  }
`);

export const ViewerDocument = graphql(`
  query Viewer {
    viewer {
      id
      tenantId
      admin
      authenticatedBy
      limits {
        activeJobs
        jobsPerMinute
        dailySpendUsd
      }
      activity {
        activeJobs
        jobsLastMinute
        spentTodayUsd
      }
    }
  }
`);

export const UploadFieldsFragment = graphql(`
  fragment UploadFields on Upload {
    id
    status
    rejectionReason
    contentType
    byteSize
    filename
    width
    height
    uploadUrl
    headers {
      name
      value
    }
    createdAt
    expiresAt
    usedAt
  }
`);

export const CreateUploadDocument = graphql(`
  mutation CreateUpload($input: CreateUploadInput!) {
    createUpload(input: $input) {
      upload {
        ...UploadFields
      }
    }
  }
`);

export const CompleteUploadDocument = graphql(`
  mutation CompleteUpload($id: ID!) {
    completeUpload(id: $id) {
      ...UploadFields
    }
  }
`);

export const UploadDocument = graphql(`
  query Upload($id: ID!) {
    upload(id: $id) {
      ...UploadFields
    }
  }
`);

export const MyPredictionsUpdatedDocument = graphql(`
  subscription MyPredictionsUpdated {
    myPredictionsUpdated {
      ...PredictionFields
    }
  }
`);
