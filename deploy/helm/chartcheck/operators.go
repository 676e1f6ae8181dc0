package chartcheck

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The operators' custom resources, as far as the chart uses them: each struct holds a
// subset of the fields the operator publishes, with its JSON names and types, so a
// misspelt or invented field fails strict decoding. Sources: CloudNativePG's
// api/v1 (cluster_types.go, scheduledbackup_types.go; the barman-cloud object store
// API), Strimzi's kafka.strimzi.io/v1beta2 schema reference (Kafka, KafkaNodePool,
// KafkaTopic), and the Redis operator's redis.redis.opstreelabs.in/v1beta2
// (rediscluster_types.go, common_types.go). Fields the chart does not use are absent on
// purpose: adding one to the chart means adding it here, from the operator's reference.

var operatorKinds = map[schema.GroupVersionKind]func() any{
	{Group: "postgresql.cnpg.io", Version: "v1", Kind: "Cluster"}:                   func() any { return &PGCluster{} },
	{Group: "postgresql.cnpg.io", Version: "v1", Kind: "ScheduledBackup"}:           func() any { return &PGScheduledBackup{} },
	{Group: "kafka.strimzi.io", Version: "v1beta2", Kind: "Kafka"}:                  func() any { return &Kafka{} },
	{Group: "kafka.strimzi.io", Version: "v1beta2", Kind: "KafkaNodePool"}:          func() any { return &KafkaNodePool{} },
	{Group: "kafka.strimzi.io", Version: "v1beta2", Kind: "KafkaTopic"}:             func() any { return &KafkaTopic{} },
	{Group: "redis.redis.opstreelabs.in", Version: "v1beta2", Kind: "RedisCluster"}: func() any { return &RedisCluster{} },
}

// object is the part every custom resource shares.
type object struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
}

func (o *object) objectMeta() metav1.ObjectMeta { return o.Metadata }

func oneOf(field, v string, allowed ...string) error {
	if v == "" || slices.Contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("%s: %q is not one of %s", field, v, strings.Join(allowed, ", "))
}

// PGCluster is a CloudNativePG Cluster (postgresql.cnpg.io/v1).
type PGCluster struct {
	object `json:",inline"`
	Spec   PGClusterSpec `json:"spec"`
}

// PGClusterSpec is the part of ClusterSpec the chart sets.
type PGClusterSpec struct {
	Description           string                      `json:"description,omitempty"`
	Instances             int                         `json:"instances"`
	ImageName             string                      `json:"imageName,omitempty"`
	PrimaryUpdateStrategy string                      `json:"primaryUpdateStrategy,omitempty"`
	PrimaryUpdateMethod   string                      `json:"primaryUpdateMethod,omitempty"`
	EnablePDB             *bool                       `json:"enablePDB,omitempty"`
	InheritedMetadata     *PGEmbeddedMetadata         `json:"inheritedMetadata,omitempty"`
	Bootstrap             *PGBootstrap                `json:"bootstrap,omitempty"`
	PostgreSQL            PGPostgresConfiguration     `json:"postgresql,omitempty"`
	Storage               PGStorage                   `json:"storage,omitempty"`
	Resources             corev1.ResourceRequirements `json:"resources,omitempty"`
	Affinity              PGAffinity                  `json:"affinity,omitempty"`
	PriorityClassName     string                      `json:"priorityClassName,omitempty"`
	Backup                *PGBackup                   `json:"backup,omitempty"`
}

// PGEmbeddedMetadata is inherited by every object the operator makes for the cluster.
type PGEmbeddedMetadata struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PGBootstrap is BootstrapConfiguration, initdb only.
type PGBootstrap struct {
	InitDB *PGInitDB `json:"initdb,omitempty"`
}

// PGInitDB is BootstrapInitDB.
type PGInitDB struct {
	Database      string `json:"database,omitempty"`
	Owner         string `json:"owner,omitempty"`
	DataChecksums *bool  `json:"dataChecksums,omitempty"`
}

// PGPostgresConfiguration is PostgresConfiguration.
type PGPostgresConfiguration struct {
	Parameters map[string]string `json:"parameters,omitempty"`
}

// PGStorage is StorageConfiguration.
type PGStorage struct {
	Size         string `json:"size,omitempty"`
	StorageClass string `json:"storageClass,omitempty"`
}

// PGAffinity is AffinityConfiguration.
type PGAffinity struct {
	EnablePodAntiAffinity *bool  `json:"enablePodAntiAffinity,omitempty"`
	TopologyKey           string `json:"topologyKey,omitempty"`
	PodAntiAffinityType   string `json:"podAntiAffinityType,omitempty"`
}

// PGBackup is BackupConfiguration with the barman object store.
type PGBackup struct {
	RetentionPolicy   string               `json:"retentionPolicy,omitempty"`
	Target            string               `json:"target,omitempty"`
	BarmanObjectStore *PGBarmanObjectStore `json:"barmanObjectStore,omitempty"`
}

// PGBarmanObjectStore is BarmanObjectStoreConfiguration.
type PGBarmanObjectStore struct {
	DestinationPath string            `json:"destinationPath"`
	EndpointURL     string            `json:"endpointURL,omitempty"`
	S3Credentials   *PGS3Credentials  `json:"s3Credentials,omitempty"`
	Wal             *PGCompressionCfg `json:"wal,omitempty"`
	Data            *PGCompressionCfg `json:"data,omitempty"`
}

// PGS3Credentials is S3Credentials.
type PGS3Credentials struct {
	AccessKeyID     *PGSecretKeySelector `json:"accessKeyId,omitempty"`
	SecretAccessKey *PGSecretKeySelector `json:"secretAccessKey,omitempty"`
}

// PGSecretKeySelector is the operator's SecretKeySelector.
type PGSecretKeySelector struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// PGCompressionCfg is the compression part of WalBackupConfiguration and
// DataBackupConfiguration.
type PGCompressionCfg struct {
	Compression string `json:"compression,omitempty"`
}

var retentionPolicy = regexp.MustCompile(`^[1-9][0-9]*[dwm]$`)

func (c *PGCluster) validate() error {
	s := c.Spec
	errs := []error{
		oneOf("spec.primaryUpdateStrategy", s.PrimaryUpdateStrategy, "unsupervised", "supervised"),
		oneOf("spec.primaryUpdateMethod", s.PrimaryUpdateMethod, "switchover", "restart"),
		oneOf("spec.affinity.podAntiAffinityType", s.Affinity.PodAntiAffinityType, "preferred", "required"),
	}
	if s.Instances < 1 {
		errs = append(errs, errors.New("spec.instances must be at least 1"))
	}
	if b := s.Backup; b != nil {
		errs = append(errs, oneOf("spec.backup.target", b.Target, "primary", "prefer-standby"))
		if b.RetentionPolicy != "" && !retentionPolicy.MatchString(b.RetentionPolicy) {
			errs = append(errs, fmt.Errorf("spec.backup.retentionPolicy %q does not match %s", b.RetentionPolicy, retentionPolicy))
		}
		if o := b.BarmanObjectStore; o != nil {
			for _, cfg := range []*PGCompressionCfg{o.Wal, o.Data} {
				if cfg != nil {
					errs = append(errs, oneOf("compression", cfg.Compression, "gzip", "bzip2", "snappy", "lz4", "xz", "zstd"))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// PGScheduledBackup is a CloudNativePG ScheduledBackup.
type PGScheduledBackup struct {
	object `json:",inline"`
	Spec   struct {
		Schedule             string `json:"schedule"`
		Immediate            *bool  `json:"immediate,omitempty"`
		BackupOwnerReference string `json:"backupOwnerReference,omitempty"`
		Method               string `json:"method,omitempty"`
		Cluster              struct {
			Name string `json:"name"`
		} `json:"cluster"`
	} `json:"spec"`
}

func (b *PGScheduledBackup) validate() error {
	var errs []error
	if n := len(strings.Fields(b.Spec.Schedule)); n != 6 {
		errs = append(errs, fmt.Errorf("spec.schedule %q has %d fields; CloudNativePG's cron has six (seconds first)", b.Spec.Schedule, n))
	}
	if b.Spec.Cluster.Name == "" {
		errs = append(errs, errors.New("spec.cluster.name is required"))
	}
	errs = append(errs,
		oneOf("spec.backupOwnerReference", b.Spec.BackupOwnerReference, "none", "self", "cluster"),
		oneOf("spec.method", b.Spec.Method, "barmanObjectStore", "volumeSnapshot", "plugin"))
	return errors.Join(errs...)
}

// StrimziPodTemplate is Strimzi's PodTemplate, metadata only.
type StrimziPodTemplate struct {
	Metadata *struct {
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata,omitempty"`
}

// Kafka is a Strimzi Kafka (kafka.strimzi.io/v1beta2) run in KRaft mode over node pools.
type Kafka struct {
	object `json:",inline"`
	Spec   struct {
		Kafka struct {
			Version   string `json:"version,omitempty"`
			Listeners []struct {
				Name string `json:"name"`
				Port int    `json:"port"`
				Type string `json:"type"`
				TLS  bool   `json:"tls"`
			} `json:"listeners"`
			Config   map[string]any `json:"config,omitempty"`
			Template *struct {
				Pod *StrimziPodTemplate `json:"pod,omitempty"`
			} `json:"template,omitempty"`
		} `json:"kafka"`
		EntityOperator *struct {
			TopicOperator *struct{} `json:"topicOperator,omitempty"`
			UserOperator  *struct{} `json:"userOperator,omitempty"`
			Template      *struct {
				Pod *StrimziPodTemplate `json:"pod,omitempty"`
			} `json:"template,omitempty"`
		} `json:"entityOperator,omitempty"`
	} `json:"spec"`
}

var listenerName = regexp.MustCompile(`^[a-z0-9]{1,11}$`)

func (k *Kafka) validate() error {
	var errs []error
	if len(k.Spec.Kafka.Listeners) == 0 {
		errs = append(errs, errors.New("spec.kafka.listeners is required"))
	}
	for _, l := range k.Spec.Kafka.Listeners {
		if !listenerName.MatchString(l.Name) {
			errs = append(errs, fmt.Errorf("listener name %q does not match %s", l.Name, listenerName))
		}
		if l.Port < 9092 || l.Port == 9404 || l.Port == 9999 {
			errs = append(errs, fmt.Errorf("listener %s: port %d is reserved (Strimzi wants 9092 and up, not 9404 or 9999)", l.Name, l.Port))
		}
		errs = append(errs, oneOf("listener type", l.Type, "internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"))
	}
	a := k.Metadata.Annotations
	if a["strimzi.io/kraft"] != "enabled" || a["strimzi.io/node-pools"] != "enabled" {
		errs = append(errs, errors.New("a KRaft cluster over node pools needs the annotations strimzi.io/kraft and strimzi.io/node-pools set to enabled"))
	}
	return errors.Join(errs...)
}

// KafkaNodePool is a Strimzi KafkaNodePool.
type KafkaNodePool struct {
	object `json:",inline"`
	Spec   struct {
		Replicas int      `json:"replicas"`
		Roles    []string `json:"roles"`
		Storage  struct {
			Type    string `json:"type"`
			Volumes []struct {
				ID            *int   `json:"id,omitempty"`
				Type          string `json:"type"`
				Size          string `json:"size,omitempty"`
				Class         string `json:"class,omitempty"`
				DeleteClaim   bool   `json:"deleteClaim,omitempty"`
				KraftMetadata string `json:"kraftMetadata,omitempty"`
			} `json:"volumes,omitempty"`
		} `json:"storage"`
		Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
		Template  *struct {
			Pod *StrimziPodTemplate `json:"pod,omitempty"`
		} `json:"template,omitempty"`
	} `json:"spec"`
}

func (p *KafkaNodePool) validate() error {
	errs := []error{oneOf("spec.storage.type", p.Spec.Storage.Type, "ephemeral", "persistent-claim", "jbod")}
	if len(p.Spec.Roles) == 0 {
		errs = append(errs, errors.New("spec.roles is required"))
	}
	for _, r := range p.Spec.Roles {
		errs = append(errs, oneOf("spec.roles", r, "controller", "broker"))
	}
	for _, v := range p.Spec.Storage.Volumes {
		errs = append(errs, oneOf("volume type", v.Type, "ephemeral", "persistent-claim"),
			oneOf("volume kraftMetadata", v.KraftMetadata, "shared"))
		if p.Spec.Storage.Type == "jbod" && v.ID == nil {
			errs = append(errs, errors.New("a jbod volume needs an id"))
		}
	}
	if p.Metadata.Labels["strimzi.io/cluster"] == "" {
		errs = append(errs, errors.New("the strimzi.io/cluster label names the Kafka cluster and is required"))
	}
	return errors.Join(errs...)
}

// KafkaTopic is a Strimzi KafkaTopic.
type KafkaTopic struct {
	object `json:",inline"`
	Spec   struct {
		TopicName  string         `json:"topicName,omitempty"`
		Partitions int            `json:"partitions,omitempty"`
		Replicas   int            `json:"replicas,omitempty"`
		Config     map[string]any `json:"config,omitempty"`
	} `json:"spec"`
}

func (t *KafkaTopic) validate() error {
	var errs []error
	if t.Spec.Partitions < 1 || t.Spec.Replicas < 1 || t.Spec.Replicas > 32767 {
		errs = append(errs, fmt.Errorf("partitions %d and replicas %d must be at least 1", t.Spec.Partitions, t.Spec.Replicas))
	}
	if t.Metadata.Labels["strimzi.io/cluster"] == "" {
		errs = append(errs, errors.New("the strimzi.io/cluster label names the Kafka cluster and is required"))
	}
	return errors.Join(errs...)
}

// RedisCluster is the Redis operator's RedisCluster (redis.redis.opstreelabs.in/v1beta2).
type RedisCluster struct {
	object `json:",inline"`
	Spec   struct {
		ClusterSize        *int32  `json:"clusterSize"`
		ClusterVersion     *string `json:"clusterVersion,omitempty"`
		PersistenceEnabled *bool   `json:"persistenceEnabled,omitempty"`
		KubernetesConfig   struct {
			Image           string                       `json:"image"`
			ImagePullPolicy corev1.PullPolicy            `json:"imagePullPolicy,omitempty"`
			Resources       *corev1.ResourceRequirements `json:"resources,omitempty"`
			RedisSecret     *struct {
				Name *string `json:"name,omitempty"`
				Key  *string `json:"key,omitempty"`
			} `json:"redisSecret,omitempty"`
		} `json:"kubernetesConfig"`
		RedisLeader        RedisRole                  `json:"redisLeader,omitempty"`
		RedisFollower      RedisRole                  `json:"redisFollower,omitempty"`
		PodSecurityContext *corev1.PodSecurityContext `json:"podSecurityContext,omitempty"`
		Storage            *struct {
			VolumeClaimTemplate corev1.PersistentVolumeClaim `json:"volumeClaimTemplate,omitempty"`
		} `json:"storage,omitempty"`
	} `json:"spec"`
}

// RedisRole is the leader or follower part of a RedisCluster.
type RedisRole struct {
	Replicas *int32 `json:"replicas,omitempty"`
	PDB      *struct {
		Enabled        bool   `json:"enabled,omitempty"`
		MinAvailable   *int32 `json:"minAvailable,omitempty"`
		MaxUnavailable *int32 `json:"maxUnavailable,omitempty"`
	} `json:"pdb,omitempty"`
}

func (r *RedisCluster) validate() error {
	var errs []error
	if r.Spec.ClusterSize == nil || *r.Spec.ClusterSize < 3 {
		errs = append(errs, errors.New("spec.clusterSize must be at least 3 (a Redis Cluster needs three primaries)"))
	}
	if r.Spec.KubernetesConfig.Image == "" {
		errs = append(errs, errors.New("spec.kubernetesConfig.image is required"))
	}
	if v := r.Spec.ClusterVersion; v != nil {
		errs = append(errs, oneOf("spec.clusterVersion", *v, "v6", "v7"))
	}
	return errors.Join(errs...)
}
